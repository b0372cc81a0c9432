"""The parent's cabinet (/my and /api/v1/portal/overview) shows each child's kindergarten
and first-grade application: the position and why, the place offered and the day to
answer by, the decision and its reason, in Russian and English."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from infocity.core.auth import SYSTEM
from infocity.education import service
from infocity.education.rules.first_grade import Phase
from infocity.education.rules.kindergarten import Benefit
from tests.builders import api_token, bearer
from tests.education_builders import (
    apply,
    apply_first_grade,
    first_grade_places,
    make_family,
    make_first_grader,
    make_kindergarten,
    make_school,
    next_school_year_start,
    open_campaign,
    set_places,
    territory,
)


def _education(client: TestClient, family: Any, lang: str = "ru") -> dict[str, Any]:
    answer = client.get(
        "/api/v1/portal/overview",
        headers={
            **bearer(api_token(client, family.parent.identifier, family.parent.password)),
            "Accept-Language": lang,
        },
    )
    assert answer.status_code == 200, answer.text
    [card] = [c for c in answer.json()["cards"] if c["code"] == "education"]
    assert isinstance(card, dict)
    return card


def _facts(item: dict[str, Any]) -> dict[str, Any]:
    return {fact["label"]: fact["value"] for fact in item["facts"]}


def test_the_cabinet_shows_the_position_then_the_offer_to_answer(client: TestClient) -> None:
    kindergarten = make_kindergarten("Детский сад «Ромашка»")
    set_places(kindergarten, 3, 1)
    family = make_family()
    apply(family, [kindergarten])
    # A later application with a priority right goes ahead.
    apply(make_family(), [kindergarten], benefit=Benefit.PRIORITY)

    card = _education(client, family)
    assert card["title"] == "Детский сад и школа"
    (item,) = card["items"]
    assert item["text"].startswith("Детский сад: Иванов")
    assert item["note"] == "В очереди"
    assert _facts(item) == {
        "Детский сад «Ромашка»": "Место в очереди: 2. Впереди: 1, из них с льготой: 1."
    }
    assert not item["attention"]

    # The place goes to the child with the benefit; the queue moves to position 1.
    service.run_allocation(SYSTEM, next_school_year_start())
    set_places(kindergarten, 3, 2)
    english = _education(client, family, "en")
    assert english["title"] == "Kindergarten and school"
    (item,) = english["items"]
    ((name, position),) = _facts(item).items()
    assert name.startswith("Kindergarten No.")  # its English name in English
    assert position == "Position 1. Ahead: 0, of them with a benefit: 0."

    service.run_allocation(SYSTEM, next_school_year_start())
    (item,) = _education(client, family)["items"]
    assert item["note"] == "Предложено место"
    assert item["attention"]
    facts = _facts(item)
    assert facts["Предложенное место"] == "Детский сад «Ромашка»"
    assert "Ответить до" in facts
    assert [a["href"] for a in item["actions"]] == ["/education/kindergarten"]


@pytest.mark.calendar
def test_the_cabinet_shows_the_first_grade_decision(client: TestClient) -> None:
    year = open_campaign(Phase.ONE)
    school = make_school()
    first_grade_places(school.id, 1)
    territory("Москва, ул. Липовая, 7", school.id)
    family = make_first_grader()
    apply_first_grade(family, [school.id], home_address="Москва, ул. Липовая, 7")

    (item,) = _education(client, family)["items"]
    assert item["text"].startswith("Первый класс: Петров")
    assert item["note"] == "Ожидает решения"
    assert "Решение не позднее" in _facts(item)

    service.run_first_grade_allocation(SYSTEM, year, Phase.ONE)
    (item,) = _education(client, family, "en")["items"]
    assert item["note"] == "Admitted: bring the documents to the school"
    assert _facts(item) == {"School": school.name_en}
    assert item["attention"]


def test_a_parent_with_no_application_sees_where_to_apply(client: TestClient) -> None:
    card = _education(client, make_family())
    assert card["items"] == []
    assert card["empty"] == "Заявлений в детский сад и первый класс нет."
    assert [link["href"] for link in card["links"]] == [
        "/education/kindergarten",
        "/education/first-grade",
    ]
