"""The demo city loads, loads once, and every login the README lists works."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.accounts import service as accounts
from infocity.accounts.models import Person, User
from infocity.core.uow import UnitOfWork
from infocity.demo import DEMO_PASSWORD, load_demo_city
from infocity.education import service as education
from infocity.education.schemas.exams import ExamLookup
from infocity.housing import service as housing
from infocity.housing.schemas import ApartmentLinkCreate
from tests.builders import login_page_client

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_logins() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Demo logins", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\|[^|]+\| `([^`]+)` \|", section, flags=re.MULTILINE)


def test_demo_city_loads_once(client: TestClient) -> None:
    assert load_demo_city() is True
    with UnitOfWork() as uow:
        users = uow.session.scalar(select(func.count()).select_from(User))
        people = uow.session.scalar(select(func.count()).select_from(Person))
    assert load_demo_city() is False
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(func.count()).select_from(User)) == users
        assert uow.session.scalar(select(func.count()).select_from(Person)) == people
    # Anna's daughter's card shows a balance and today's entry and lunch.
    anna = login_page_client(client, "anna.ivanova@demo.infocity.example", DEMO_PASSWORD)
    cards = anna.get("/cards").text
    assert "Мария" in cards
    pupil = re.search(r'href="/cards/pupils/(\d+)"', cards)
    assert pupil is not None
    day = anna.get(f"/cards/pupils/{pupil[1]}").text
    assert "445,00" in cards  # 500 paid in, 20 of the lunch, 35 of the bun ordered ahead
    assert "Вход в школу" in day
    assert "Покупка в столовой" in day
    # The school's menu, the subsidised lunch and the lunch ordered ahead.
    assert "Льготное питание" in day
    assert "Комплексный обед" in day
    assert "150,00\u00a0руб. за счёт льготы" in day
    # The guard's building lists the demo cameras.
    guard = login_page_client(client, "security@demo.infocity.example", DEMO_PASSWORD)
    buildings = guard.get("/safety").text
    assert "Большой Афанасьевский пер., 30" in buildings
    building = re.search(r'href="/safety/buildings/(\d+)"', buildings)
    assert building is not None
    assert "CAM-01" in guard.get(f"/safety/buildings/{building[1]}").text


def test_every_readme_login_works_with_the_demo_password(database: str) -> None:
    load_demo_city()
    logins = _readme_logins()
    assert len(logins) >= 13
    for identifier in logins:
        token = accounts.login(identifier, DEMO_PASSWORD, user_agent="test", ip=None)
        assert accounts.principal_from_session(token) is not None, identifier


def test_every_readme_demo_apartment_can_be_linked(database: str) -> None:
    load_demo_city()
    section = README.read_text(encoding="utf-8").split("## Demo apartments", 1)[1]
    section = section.split("\n## ", 1)[0]
    apartments = re.findall(r"^\| (\d{10}) \| (\w+) \|$", section, flags=re.MULTILINE)
    assert len(apartments) == 3
    token = accounts.login(
        "anna.ivanova@demo.infocity.example", DEMO_PASSWORD, user_agent="test", ip=None
    )
    anna = accounts.principal_from_session(token)
    assert anna is not None
    for payer_code, number in apartments:
        linked = housing.link_apartment(
            anna, ApartmentLinkCreate(payer_code=payer_code, number=number)
        )
        assert linked.payer_code == payer_code


def test_every_readme_exam_participant_sees_the_results_out_and_not_the_ones_to_come(
    database: str,
) -> None:
    load_demo_city()
    section = README.read_text(encoding="utf-8").split("## Demo exam results", 1)[1]
    section = section.split("\n## ", 1)[0]
    participants = re.findall(r"^\| (\d{12}) \| (\d+) \|$", section, flags=re.MULTILINE)
    assert len(participants) == 2
    for code, document in participants:
        found = education.look_up_exam_results(
            ExamLookup(registration_code=code, document_number=document)
        )
        assert {r.subject for r in found.results} == {"russian", "mathematics_profile"}


def test_the_demo_city_takes_first_grade_applications_in_phase_1(database: str) -> None:
    # Phase 1 opens the day the demo is loaded, whatever the day: no calendar cases.
    load_demo_city()
    campaign = education.get_first_grade_campaign()
    assert campaign is not None
    assert campaign.open_phase == 1
    assert [s.places for s in campaign.schools] == [25, 25]
