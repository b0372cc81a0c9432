"""The demo city: small, deterministic, and loaded through the real service functions,
so that a newcomer can log in as every kind of user at once (logins in the README)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from infocity.accounts import rules
from infocity.accounts import service as accounts
from infocity.accounts.schemas import ChildCreate, CitizenCreate, ProfileUpdate, StaffCreate
from infocity.cards.demo import load_demo_cards
from infocity.city import service as city
from infocity.city.models import District
from infocity.city.schemas import DistrictCreate, OrganisationCreate
from infocity.connectivity.demo import load_demo_connectivity
from infocity.core.auth import SYSTEM, Principal, Role
from infocity.core.uow import UnitOfWork
from infocity.education.demo import load_demo_education
from infocity.health.demo import load_demo_health
from infocity.housing import service as housing
from infocity.housing.schemas import (
    ApartmentCreate,
    BankDetailsCreate,
    MeterCreate,
    TariffCreate,
)
from infocity.portal import service as portal
from infocity.safety.demo import load_demo_safety

DEMO_PASSWORD = "infocity-demo"  # noqa: S105 - published in the README, demo only
DEMO_DOMAIN = "demo.infocity.example"  # a reserved name: no mail ever leaves for it

DISTRICTS = [
    ("CAO", "Центральный административный округ", "Central Administrative District"),
    ("SAO", "Северный административный округ", "Northern Administrative District"),
    ("SZAO", "Северо-Западный административный округ", "North-Western Administrative District"),
]


@dataclass(frozen=True)
class DemoOrganisation:
    key: str
    kind: str
    name: str
    name_en: str
    district: str
    address: str
    latitude: float
    longitude: float


ORGANISATIONS = [
    DemoOrganisation(
        "city",
        "city",
        "Департамент информационных технологий",
        "Department of Information Technology",
        "CAO",
        "ул. Новый Арбат, 11",
        55.7524,
        37.5901,
    ),
    DemoOrganisation(
        "college54",
        "college",
        "Колледж связи № 54 имени П. М. Вострухина",
        "Communications College No. 54",
        "SAO",
        "Ленинградское ш., 10",
        55.8050,
        37.5110,
    ),
    DemoOrganisation(
        "clinic3",
        "clinic",
        "Городская поликлиника № 3",
        "City Polyclinic No. 3",
        "CAO",
        "Гранатный пер., 2",
        55.7586,
        37.5936,
    ),
    DemoOrganisation(
        "clinic12",
        "clinic",
        "Городская поликлиника № 12",
        "City Polyclinic No. 12",
        "SAO",
        "ул. Дыбенко, 26",
        55.8777,
        37.4807,
    ),
    DemoOrganisation(
        "kids7",
        "clinic",
        "Детская городская поликлиника № 7",
        "Children's City Polyclinic No. 7",
        "SZAO",
        "ул. Берзарина, 4",
        55.7770,
        37.4775,
    ),
    DemoOrganisation(
        "school1520",
        "school",
        "Школа № 1520 имени Капцовых",
        "School No. 1520",
        "CAO",
        "Большой Афанасьевский пер., 30",
        55.7485,
        37.5960,
    ),
    DemoOrganisation(
        "school57",
        "school",
        "Школа № 57",
        "School No. 57",
        "CAO",
        "Малый Знаменский пер., 7/10",
        55.7478,
        37.6033,
    ),
    DemoOrganisation(
        "edu-cao",
        "education_office",
        "Управление образования ЦАО",
        "Central District Education Office",
        "CAO",
        "ул. Гиляровского, 31",
        55.7800,
        37.6300,
    ),
    DemoOrganisation(
        "kg1101",
        "kindergarten",
        "Детский сад № 1101",
        "Kindergarten No. 1101",
        "SAO",
        "ул. Фестивальная, 19",
        55.8560,
        37.4850,
    ),
    DemoOrganisation(
        "kg2304",
        "kindergarten",
        "Детский сад № 2304",
        "Kindergarten No. 2304",
        "SZAO",
        "ул. Маршала Бирюзова, 12",
        55.7930,
        37.4950,
    ),
    DemoOrganisation(
        "housing",
        "housing_operator",
        "ГБУ «Жилищник района Арбат»",
        "Arbat District Housing Service",
        "CAO",
        "ул. Арбат, 42",
        55.7495,
        37.5890,
    ),
    DemoOrganisation(
        "wifi",
        "wifi_operator",
        "Городская сеть Wi-Fi",
        "City Wi-Fi Network",
        "CAO",
        "ул. Новый Арбат, 11",
        55.7524,
        37.5901,
    ),
]

# Meters of every demo apartment (kind, reading at installation per resident) and the
# city's utility tariffs (roubles per m³ or kWh).
HOUSING_METERS = (("cold_water", 120), ("hot_water", 80), ("electricity_day", 2100))
HOUSING_TARIFFS = (
    ("cold_water", Decimal("55.43")),
    ("hot_water", Decimal("272.50")),
    ("water_disposal", Decimal("44.60")),
    ("electricity_day", Decimal("8.12")),
    ("electricity_night", Decimal("3.04")),
)

# (login name, display name, role, organisation key or None for city-wide roles)
STAFF = [
    ("registrar", "Ольга Смирнова", Role.REGISTRAR, "clinic3"),
    ("doctor", "Дмитрий Козлов", Role.DOCTOR, "clinic3"),  # the therapist Kozlov
    ("clinic.admin", "Елена Морозова", Role.CLINIC_ADMIN, "clinic3"),
    ("school", "Татьяна Волкова", Role.SCHOOL_STAFF, "school1520"),
    ("kindergarten", "Наталья Лебедева", Role.KINDERGARTEN_STAFF, "kg1101"),
    ("exam", "Игорь Соколов", Role.EXAM_OFFICIAL, None),
    ("education.cao", "Светлана Кузнецова", Role.EDUCATION_OFFICIAL, "edu-cao"),
    ("housing", "Андрей Новиков", Role.HOUSING_OPERATOR, "housing"),
    ("wifi", "Максим Фёдоров", Role.WIFI_OPERATOR, "wifi"),
    ("college", "Светлана Попова", Role.COLLEGE_STAFF, "college54"),
    ("security", "Павел Орлов", Role.SECURITY_STAFF, None),
    ("analyst", "Мария Белова", Role.ANALYST, None),
    ("admin", "Алексей Григорьев", Role.CITY_ADMIN, None),
]


def demo_snils(serial: int) -> str:
    """A SNILS with a valid checksum, from a small serial number."""
    first_nine = f"{200_000_000 + serial:09d}"
    return first_nine + rules.snils_control_number(first_nine)


def _already_loaded() -> bool:
    with UnitOfWork() as uow:
        return uow.session.scalar(select(District.id).where(District.code == "CAO")) is not None


def _as_citizen(identifier: str) -> Principal:
    token = accounts.login(identifier, DEMO_PASSWORD, user_agent="demo seed", ip=None)
    principal = accounts.principal_from_session(token)
    accounts.logout(token)
    assert principal is not None
    return principal


def load_demo_city() -> bool:
    """Load the demo city unless it is there already; True when it was loaded now."""
    if _already_loaded():
        return False
    districts = {
        code: city.create_district(
            DistrictCreate(code=code, name=name, name_en=name_en), actor=SYSTEM
        ).id
        for code, name, name_en in DISTRICTS
    }
    organisations = {
        o.key: city.create_organisation(
            OrganisationCreate(
                kind=o.kind,
                name=o.name,
                name_en=o.name_en,
                district_id=districts[o.district],
                address=o.address,
                latitude=o.latitude,
                longitude=o.longitude,
            ),
            actor=SYSTEM,
        ).id
        for o in ORGANISATIONS
    }
    staff_ids: dict[str, int] = {}
    for login_name, display_name, role, organisation in STAFF:
        staff_ids[login_name] = accounts.create_staff_account(
            StaffCreate(
                email=f"{login_name}@{DEMO_DOMAIN}",
                display_name=display_name,
                role=role.value,
                organisation_id=organisations[organisation] if organisation else None,
                password=DEMO_PASSWORD,
            ),
            actor=SYSTEM,
        ).id

    anna_email = f"anna.ivanova@{DEMO_DOMAIN}"
    accounts.register_citizen(
        CitizenCreate(
            email=anna_email,
            password=DEMO_PASSWORD,
            last_name="Иванова",
            first_name="Анна",
            middle_name="Сергеевна",
        )
    )
    # The demo's people confirmed their contacts long ago (a visitor who signs up in the
    # demo confirms by phone: without an SMS gateway the link lands in their inbox).
    accounts.confirm_contact(None, anna_email)
    anna = _as_citizen(anna_email)
    accounts.update_profile(
        anna,
        ProfileUpdate(
            birth_date=date(1988, 3, 14),
            snils=demo_snils(1),
            oms_policy="7700000000000011",
            passport="4510 123456",
        ),
    )
    maria = accounts.add_child(
        anna,
        ChildCreate(
            last_name="Иванова",
            first_name="Мария",
            middle_name="Андреевна",
            birth_date=date(2016, 9, 2),
            snils=demo_snils(2),
            oms_policy="7700000000000029",
        ),
    )
    accounts.add_child(
        anna,
        ChildCreate(
            last_name="Иванов",
            first_name="Пётр",
            middle_name="Андреевич",
            birth_date=date(2021, 5, 20),
            oms_policy="7700000000000037",
        ),
    )
    accounts.register_citizen(
        CitizenCreate(
            phone="+7 900 000-00-02",
            password=DEMO_PASSWORD,
            last_name="Петров",
            first_name="Сергей",
            middle_name="Николаевич",
        )
    )
    accounts.confirm_contact(None, "+79000000002")
    sergey = _as_citizen("+79000000002")
    accounts.update_profile(
        sergey,
        ProfileUpdate(
            birth_date=date(1975, 11, 30), snils=demo_snils(3), oms_policy="7700000000000045"
        ),
    )

    for number, residents in (("12", 3), ("14", 1), ("27", 2)):
        apartment = housing.register_apartment(
            ApartmentCreate(
                payer_code=f"77012345{number}",
                operator_id=organisations["housing"],
                district_id=districts["CAO"],
                address="Москва, ул. Арбат, 42",
                number=number,
                residents=residents,
            )
        )
        for kind, start in HOUSING_METERS:
            housing.register_meter(
                SYSTEM,
                MeterCreate(
                    apartment_id=apartment.id,
                    kind=kind,
                    serial=f"{kind[:2].upper()}-{number}-{len(kind):02d}{start:04d}",
                    verification_due=date(2031, 6, 30),
                    initial_value=Decimal(start * residents),
                ),
            )
    # Sberbank's BIC and correspondent account; the demo operator's account and INN are
    # invented but pass the checks, so the demo bills carry a payment QR code.
    housing.set_operator_bank_details(
        SYSTEM,
        organisations["housing"],
        BankDetailsCreate(
            name="ГБУ «Жилищник района Арбат»",
            personal_account="40702810938000012345",
            bank_name="ПАО Сбербанк",
            bic="044525225",
            correspondent_account="30101810400000000225",
            inn="7704567896",
        ),
    )
    for service_name, price in HOUSING_TARIFFS:
        housing.set_tariff(
            SYSTEM, TariffCreate(service=service_name, valid_from=date(2025, 1, 1), price=price)
        )
    load_demo_health(doctor_user_id=staff_ids["doctor"])
    load_demo_education()
    load_demo_connectivity()
    load_demo_safety(
        organisations["school1520"], "Большой Афанасьевский пер., 30", staff_ids["security"]
    )
    load_demo_cards(
        _as_citizen(f"school@{DEMO_DOMAIN}"), anna, organisations["school1520"], maria.id
    )
    portal.seed_catalogue()
    return True
