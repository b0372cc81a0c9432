"""Who is seen where: age, sex and the kind of polyclinic, on SQLite and PostgreSQL.

One rule (``rules.why_unsuited``) refuses attaching, referring, booking (app, kiosk,
registry) and joining a waiting list, with the reason in the user's language; what
citizens and registrars are offered is filtered by it, and by the doctors a polyclinic
has, so nothing offered is refused after the click.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from infocity.accounts import service as accounts
from infocity.accounts.models import Person
from infocity.accounts.schemas import ProfileUpdate
from infocity.core.errors import AppError
from infocity.core.i18n import use_locale
from infocity.core.uow import UnitOfWork
from infocity.health import reads, rules, service
from infocity.health.schemas import (
    AnonymousBookingCreate,
    BookingCreate,
    RegistryBookingCreate,
    WaitlistEntryCreate,
)
from tests.builders import Account, make_staff
from tests.health_builders import (
    attach,
    city_today,
    get_slot,
    make_child,
    make_clinic,
    make_patient,
    make_practitioner,
    make_referral,
    make_slots,
)
from tests.support.refusals import Unchanged


def patient_of_sex(sex: str | None, birth_date: date = date(1980, 5, 17)) -> Account:
    patient = make_patient(birth_date)
    if sex is not None:
        accounts.update_profile(patient.principal, ProfileUpdate(sex=sex))
    return patient


@pytest.fixture
def clinic(database: str) -> dict[str, Any]:
    """An adult polyclinic with a therapist and an obstetrician-gynaecologist working
    tomorrow, and no other doctor."""
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    gynaecologist = make_practitioner(clinic.id, "obstetrician_gynaecologist")
    return {
        "clinic": clinic,
        "therapist": make_slots(therapist.id),
        "gynaecologist": make_slots(gynaecologist.id),
    }


def attached(clinic_id: int, sex: str | None) -> Account:
    patient = patient_of_sex(sex)
    assert patient.person_id is not None
    attach(patient.person_id, clinic_id)
    return patient


def translated(refusal: AppError) -> tuple[str, str]:
    with use_locale("ru"):
        russian = refusal.translated()
    with use_locale("en"):
        english = refusal.translated()
    return russian, english


# --- The rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("traits", "checks", "code"),
    [
        ((date(1990, 1, 1), "male"), {"clinic_kind": "children"}, "wrong_clinic_kind"),
        ((date(2015, 1, 1), None), {"clinic_kind": "adult"}, "wrong_clinic_kind"),
        ((date(2015, 1, 1), None), {"clinic_kind": "children"}, None),
        ((date(1990, 1, 1), None), {"audience": "child"}, "age_not_served"),
        ((date(2015, 1, 1), None), {"audience": "adult"}, "age_not_served"),
        ((date(1990, 1, 1), "male"), {"sex": "female"}, "sex_not_served"),
        ((date(1990, 1, 1), "female"), {"sex": "male"}, "sex_not_served"),
        ((date(1990, 1, 1), "female"), {"sex": "female"}, None),
        # What is not known does not refuse: an unstated sex, an unknown birth date.
        ((date(1990, 1, 1), None), {"sex": "female"}, None),
        ((None, None), {"audience": "child", "clinic_kind": "children"}, None),
    ],
)
def test_who_fits(
    traits: tuple[date | None, str | None], checks: dict[str, str], code: str | None
) -> None:
    patient = rules.PatientTraits(*traits)
    refusal = rules.why_unsuited(patient, date(2025, 6, 1), **checks)
    assert (refusal.code if refusal else None) == code
    assert rules.suits(patient, date(2025, 6, 1), **checks) is (code is None)


# --- Attaching -------------------------------------------------------------------------


def test_an_adult_is_not_attached_to_a_childrens_polyclinic(unchanged: Unchanged) -> None:
    children = make_clinic("children")
    patient = make_patient(date(1990, 3, 3))  # 36
    assert patient.person_id is not None
    with pytest.raises(AppError) as caught:
        attach(patient.person_id, children.id)
    assert caught.value.code == "wrong_clinic_kind"
    assert translated(caught.value) == (
        "Это детская поликлиника: взрослых прикрепляют к взрослым поликлиникам.",
        "This is a children's polyclinic: adults are attached to adult polyclinics.",
    )
    child = make_child(patient)
    with unchanged("wrong_clinic_kind", "Это взрослая поликлиника"):
        attach(child.id, make_clinic().id)


def test_an_adult_cannot_even_apply_to_a_childrens_polyclinic(unchanged: Unchanged) -> None:
    from infocity.portal import service as portal
    from infocity.portal.schemas import ApplicationCreate

    children = make_clinic("children")
    patient = make_patient(date(1990, 3, 3))
    with unchanged("wrong_clinic_kind", "Это детская поликлиника"):
        portal.create_application(
            patient.principal,
            ApplicationCreate(
                type="clinic_attachment", form={"clinic_id": children.id}, submit=True
            ),
        )


# --- Referring -------------------------------------------------------------------------


def test_a_doctor_does_not_refer_an_adult_to_a_paediatrician(
    clinic: dict[str, Any], unchanged: Unchanged
) -> None:
    patient = attached(clinic["clinic"].id, "male")
    assert patient.person_id is not None
    with unchanged("age_not_served", "Этот врач принимает только детей"):
        make_referral(patient.person_id, clinic["clinic"].id, "paediatrician")
    with unchanged("sex_not_served", "Этот врач принимает только женщин"):
        make_referral(patient.person_id, clinic["clinic"].id, "obstetrician_gynaecologist")
    children = make_clinic("children")
    with unchanged("age_not_served", "только детей"):  # to a children's polyclinic
        make_referral(patient.person_id, clinic["clinic"].id, "cardiologist",
                      target_clinic_id=children.id)  # fmt: skip
    assert make_referral(patient.person_id, clinic["clinic"].id, "cardiologist").status == "active"


def test_a_child_is_not_referred_to_an_adult_specialty(unchanged: Unchanged) -> None:
    children = make_clinic("children")
    guardian = make_patient()
    child = make_child(guardian)
    attach(child.id, children.id)
    with unchanged("age_not_served", "только взрослых"):
        make_referral(child.id, children.id, "therapist")


# --- Booking ---------------------------------------------------------------------------


def test_a_man_is_not_booked_to_a_gynaecologist_by_any_channel(
    clinic: dict[str, Any], unchanged: Unchanged
) -> None:
    man = attached(clinic["clinic"].id, "male")
    slot_id = clinic["gynaecologist"][0]
    with unchanged("sex_not_served", "Этот врач принимает только женщин."):
        service.book_slot(man.principal, BookingCreate(slot_id=slot_id))
    with UnitOfWork() as uow:
        person = uow.session.get(Person, man.person_id)
        assert person is not None
        policy, born = person.oms_policy, person.birth_date
    with unchanged("sex_not_served"):  # the kiosk
        service.book_by_policy(
            AnonymousBookingCreate(oms_policy=policy, birth_date=born, slot_id=slot_id),
            ip="10.0.0.9",
        )
    registrar = make_staff("registrar", clinic["clinic"].id)
    with unchanged("sex_not_served"):
        service.book_for_patient(
            registrar.principal, RegistryBookingCreate(patient_id=man.person_id, slot_id=slot_id)
        )


def test_a_woman_and_a_patient_of_unstated_sex_are_booked_to_a_gynaecologist(
    clinic: dict[str, Any],
) -> None:
    woman = attached(clinic["clinic"].id, "female")
    unstated = attached(clinic["clinic"].id, None)
    first, second = clinic["gynaecologist"][:2]
    assert service.book_slot(woman.principal, BookingCreate(slot_id=first)).status == "booked"
    assert service.book_slot(unstated.principal, BookingCreate(slot_id=second)).status == "booked"


def test_a_man_does_not_join_the_gynaecologists_waiting_list(
    clinic: dict[str, Any], unchanged: Unchanged
) -> None:
    man = attached(clinic["clinic"].id, "male")
    specialty_id = get_slot(clinic["gynaecologist"][0]).specialty_id
    with unchanged("sex_not_served"):
        service.join_waitlist(man.principal, WaitlistEntryCreate(specialty_id=specialty_id))


# --- What is offered -------------------------------------------------------------------


def offered(home: Any) -> set[str]:
    return {option.specialty.code for option in home.specialties}


def test_a_citizen_is_offered_only_what_their_polyclinic_has_and_would_see_them_for(
    clinic: dict[str, Any],
) -> None:
    man = attached(clinic["clinic"].id, "male")
    woman = attached(clinic["clinic"].id, "female")
    unstated = attached(clinic["clinic"].id, None)
    # No surgeon, no paediatrician here: not shown (not "no free time, come back later").
    assert offered(reads.booking_home(man.principal)) == {"therapist"}
    assert offered(reads.booking_home(woman.principal)) == {
        "therapist",
        "obstetrician_gynaecologist",
    }
    assert offered(reads.booking_home(unstated.principal)) == {
        "therapist",
        "obstetrician_gynaecologist",
    }


def test_a_specialty_a_polyclinic_has_no_doctor_for_says_so(clinic: dict[str, Any]) -> None:
    man = attached(clinic["clinic"].id, "male")
    choice = reads.slot_choice(man.principal, None, "surgeon")
    assert choice.problem == "This polyclinic has no doctor of this specialty."
    assert choice.days == []
    refused = reads.slot_choice(man.principal, None, "obstetrician_gynaecologist")
    assert refused.problem == "This doctor sees only women."
    assert refused.days == []


def test_a_doctor_who_leaves_takes_the_specialty_off_the_list(database: str) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    make_practitioner(clinic.id, "surgeon")
    patient = attached(clinic.id, None)
    assert "therapist" in offered(reads.booking_home(patient.principal))
    with UnitOfWork() as uow:
        from infocity.health.models import Practitioner

        post = uow.session.get(Practitioner, therapist.id)
        assert post is not None
        post.active = False
        uow.commit()
    assert offered(reads.booking_home(patient.principal)) == {"surgeon"}


def find(registrar: Account, clinic_id: int, patient: Account) -> Any:
    with UnitOfWork() as uow:
        person = uow.session.get(Person, patient.person_id)
        assert person is not None
        policy, born = person.oms_policy, person.birth_date
    assert policy is not None
    return reads.find_patient(registrar.principal, clinic_id, policy, born)


def test_a_registrar_is_offered_only_what_the_clinic_has_and_would_see_the_patient_for(
    clinic: dict[str, Any],
) -> None:
    make_practitioner(clinic["clinic"].id, "paediatrician")  # even if one were posted here
    registrar = make_staff("registrar", clinic["clinic"].id)
    man = attached(clinic["clinic"].id, "male")
    card = find(registrar, clinic["clinic"].id, man)
    assert card.problem is None
    assert {s.code for s in card.specialties} == {"therapist"}


def test_a_registrar_is_told_a_patient_is_attached_elsewhere_before_any_time(
    clinic: dict[str, Any],
) -> None:
    elsewhere = make_clinic()
    patient = attached(elsewhere.id, "female")
    registrar = make_staff("registrar", clinic["clinic"].id)
    card = find(registrar, clinic["clinic"].id, patient)
    assert card.problem is not None
    with use_locale("ru"):
        assert "не прикреплён к этой поликлинике" in AppError("x", card.problem).translated()
    assert card.specialties == []  # both doctors here are booked directly
    choice = reads.registry_slots(registrar.principal, clinic["clinic"].id, patient.person_id or 0,
                                  "therapist").choice  # fmt: skip
    assert choice.problem == card.problem
    assert choice.days == []


def test_the_kiosk_offers_what_the_app_offers(clinic: dict[str, Any]) -> None:
    man = attached(clinic["clinic"].id, "male")
    assert man.person_id is not None
    home = reads.kiosk_home(man.person_id)
    assert offered(home) == {"therapist"}


def test_age_is_judged_on_the_day_of_the_visit_for_what_is_offered(database: str) -> None:
    children = make_clinic("children")
    make_practitioner(children.id, "paediatrician")
    guardian = make_patient()
    today = city_today()
    child = make_child(guardian, date(today.year - 10, 1, 1))
    attach(child.id, children.id)
    assert offered(reads.booking_home(guardian.principal, child.id)) == {"paediatrician"}
