"""The demo city's polyclinics: specialties, doctors with weekly schedules, the demo
citizens' attachments and slots for the booking horizon (through the service functions).

Call ``load_demo_health()`` after ``infocity.demo.load_demo_city()``.
"""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_today
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Clinic
from infocity.health.schemas import (
    AttachmentCreate,
    ClinicCreate,
    PractitionerCreate,
    ScheduleRuleCreate,
)

# Demo organisations by English name (as in infocity.demo), with their clinic kind.
CLINICS = {
    "clinic3": ("City Polyclinic No. 3", "adult"),
    "clinic12": ("City Polyclinic No. 12", "adult"),
    "kids7": ("Children's City Polyclinic No. 7", "children"),
}
MORNING = (time(8, 0), time(14, 0), time(11, 0), time(11, 30))
EVENING = (time(14, 0), time(20, 0), time(17, 0), time(17, 30))
# (clinic key, specialty, doctor, room, shift)
PRACTITIONERS = [
    ("clinic3", "therapist", "Козлов Дмитрий Игоревич", "204", MORNING),
    ("clinic3", "therapist", "Соловьёва Ирина Петровна", "205", EVENING),
    ("clinic3", "surgeon", "Кузнецов Олег Викторович", "112", MORNING),
    ("clinic3", "ophthalmologist", "Зайцева Марина Олеговна", "310", EVENING),
    ("clinic3", "cardiologist", "Белов Артём Сергеевич", "401", MORNING),
    ("clinic3", "neurologist", "Громова Анна Львовна", "402", EVENING),
    ("clinic12", "therapist", "Никитин Павел Андреевич", "101", MORNING),
    ("clinic12", "otolaryngologist", "Егорова Светлана Юрьевна", "215", EVENING),
    ("clinic12", "dentist", "Морозов Кирилл Денисович", "020", MORNING),
    ("kids7", "paediatrician", "Васильева Ольга Николаевна", "11", MORNING),
    ("kids7", "paediatrician", "Павлов Игорь Семёнович", "12", EVENING),
    ("kids7", "ophthalmologist", "Киселёва Дарья Андреевна", "21", MORNING),
    ("kids7", "otolaryngologist", "Фролов Максим Ильич", "22", EVENING),
]
# The district doctors: (clinic key, doctor) and the district each serves.
DISTRICTS = {
    ("clinic3", "Козлов Дмитрий Игоревич"): 1,
    ("clinic3", "Соловьёва Ирина Петровна"): 2,
    ("clinic12", "Никитин Павел Андреевич"): 1,
    ("kids7", "Васильева Ольга Николаевна"): 1,
    ("kids7", "Павлов Игорь Семёнович"): 2,
}
# Demo citizens by OMS policy (infocity.demo): the clinic each is attached to, and the
# district there.
ATTACHMENTS = {
    "7700000000000011": ("clinic3", 1),  # Anna Ivanova
    "7700000000000029": ("kids7", 1),  # Maria, her daughter
    "7700000000000037": ("kids7", 1),  # Pyotr, her son
    "7700000000000045": ("clinic12", 1),  # Sergey Petrov
}


# The demo doctor's account (doctor@…) works as this practitioner.
DEMO_DOCTOR = "Козлов Дмитрий Игоревич"


def load_demo_health(doctor_user_id: int | None = None) -> bool:
    """Load the demo polyclinics unless they are there already; True when loaded now.

    ``doctor_user_id`` is the staff account linked to the demo doctor's post.
    """
    by_name = {o.name_en: o.id for o in city.list_organisations("clinic")}
    clinic_ids = {key: by_name[name] for key, (name, _kind) in CLINICS.items() if name in by_name}
    if len(clinic_ids) != len(CLINICS):
        return False  # the demo city is not loaded
    with UnitOfWork() as uow:
        if uow.session.scalar(select(Clinic.id).where(Clinic.id.in_(clinic_ids.values()))):
            return False
    service.seed_specialties()
    for key, (_name, kind) in CLINICS.items():
        service.create_clinic(
            ClinicCreate(organisation_id=clinic_ids[key], clinic_kind=kind), actor=SYSTEM
        )
    today = city_today()
    for key, specialty, name, room, (start, end, break_start, break_end) in PRACTITIONERS:
        practitioner = service.add_practitioner(
            PractitionerCreate(
                clinic_id=clinic_ids[key],
                specialty_code=specialty,
                name=name,
                room=room,
                user_id=doctor_user_id if name == DEMO_DOCTOR else None,
                district=DISTRICTS.get((key, name)),
            ),
            actor=SYSTEM,
        )
        for weekday in range(5):
            service.set_schedule_rule(
                SYSTEM,
                ScheduleRuleCreate(
                    practitioner_id=practitioner.id,
                    weekday=weekday,
                    start_time=start,
                    end_time=end,
                    break_start=break_start,
                    break_end=break_end,
                    valid_from=today - timedelta(days=1),
                ),
            )
    with UnitOfWork() as uow:
        patients = {
            policy: accounts.person_by_policy(uow.session, policy) for policy in ATTACHMENTS
        }
    for policy, (key, district) in ATTACHMENTS.items():
        patient = patients[policy]
        if patient is not None:
            service.attach_patient(
                SYSTEM,
                AttachmentCreate(
                    person_id=patient.person_id, clinic_id=clinic_ids[key], district=district
                ),
            )
    service.materialise_horizon()
    return True
