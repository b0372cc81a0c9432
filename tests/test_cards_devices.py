"""Turnstiles and tills over HTTP: a batch keeps its good rows and says why each bad one
was refused; a batch sent again changes nothing; late events take their own time's place;
a till asks before it sells and the purchase uses the approval's hold."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

from fastapi.testclient import TestClient
from httpx import Response

from infocity.cards import service
from infocity.cards.models.events import CardEvent
from infocity.cards.schemas.ledger import SpendingRules
from infocity.core.auth import SYSTEM
from infocity.core.db import utcnow
from tests.builders import count_rows
from tests.cards_builders import enrolled_child, event, make_device, make_school, yesterday_at

EVENTS = "/api/v1/cards/devices/events"
AUTHORIZE = "/api/v1/cards/devices/authorizations"


def test_a_turnstile_batch_keeps_good_rows_refuses_bad_ones_and_counts_once(
    client: TestClient,
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school)
    _other_parent, elsewhere = enrolled_child(make_school())
    turnstile = make_device(school.id)
    key = {"X-Device-Key": turnstile.key}
    now = utcnow()
    morning, noon = yesterday_at(8, 10), yesterday_at(12, 40)
    rows = [
        event("e2", "exit", pupil.uid, noon),
        event("e1", "entry", pupil.uid, morning),  # late: sent after the exit
        event("e3", "entry", "DEADBEEF", morning),
        event("e4", "entry", elsewhere.uid, morning),
        event("e5", "purchase", pupil.uid, morning, amount=100),
        {"event_id": "e6", "kind": "entry"},
        event("e7", "entry", pupil.uid, now + timedelta(hours=1)),
    ]
    answer = client.post(EVENTS, json={"events": rows}, headers=key)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [(r["index"], r["code"]) for r in body["refused"]] == [
        (2, "cards_unknown_card"),
        (3, "cards_card_of_another_school"),
        (4, "cards_wrong_device_kind"),
        (5, "cards_invalid_row"),
        (6, "cards_event_in_future"),
    ]
    assert body["refused"][0]["message"] == "Карты с таким номером нет."

    again = client.post(EVENTS, json={"events": rows[:2]}, headers=key).json()
    assert again == {"accepted": 0, "duplicates": 2, "refused": []}
    assert count_rows(CardEvent) == 2
    day = service.list_card_events(parent.principal, pupil.id, morning, now=now)
    assert [e.kind for e in day] == ["entry", "exit"]

    refused = client.post(EVENTS, json={"events": rows[:1]}, headers={"X-Device-Key": "dev_x"})
    assert refused.status_code == 401
    assert client.post(EVENTS, json={"events": rows[:1]}).status_code == 401


def test_passes_in_every_accepted_shape_are_stored_and_bad_moments_refused(
    client: TestClient,
) -> None:
    """Turnstiles' rows are read as the document says whatever their shape: trimmed ids,
    a UID with separators in any case, UTC as Z or an offset, fractions of a second; a
    day that does not exist or a moment without its offset is refused, nothing stored."""
    school = make_school()
    parent, pupil = enrolled_child(school)
    key = {"X-Device-Key": make_device(school.id).key}
    moment = yesterday_at(8, 10)
    utc = moment.astimezone(UTC)
    spaced = ":".join(pupil.uid[i : i + 2] for i in range(0, len(pupil.uid), 2)).lower()
    rows: list[dict[str, object]] = [
        event("  s1 ", "entry", pupil.uid, moment),
        event("s2", "exit", spaced, moment),
        {**event("s3", "entry", pupil.uid, moment), "at": utc.strftime("%Y-%m-%dT%H:%M:%SZ")},
        {**event("s4", "exit", pupil.uid, moment), "at": utc.strftime("%Y-%m-%dT%H:%M:%S.25Z")},
        {**event("s5", "entry", pupil.uid, moment), "at": "2026-02-30T08:10:00+03:00"},
        {**event("s6", "entry", pupil.uid, moment), "at": utc.strftime("%Y-%m-%dT%H:%M:%S")},
        {**event("s7", "entry", pupil.uid, moment), "at": "1772428200"},
    ]
    body = client.post(EVENTS, json={"events": rows}, headers=key).json()
    assert (body["accepted"], body["duplicates"]) == (4, 0)
    assert [(r["index"], r["code"]) for r in body["refused"]] == [
        (4, "cards_invalid_row"),
        (5, "cards_invalid_row"),
        (6, "cards_invalid_row"),
    ]
    again = client.post(
        EVENTS, json={"events": [event("s1", "entry", pupil.uid, moment)]}, headers=key
    )
    assert again.json() == {"accepted": 0, "duplicates": 1, "refused": []}
    stored = sorted(
        (e.occurred_at.astimezone(UTC), e.kind)
        for e in service.list_card_events(parent.principal, pupil.id, moment)
    )
    assert [at for at, _kind in stored].count(utc) == 3
    assert count_rows(CardEvent) == 4


def test_a_till_asks_holds_and_the_purchase_uses_the_hold(client: TestClient) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=30_000)
    service.set_spending_rules(
        parent.principal, pupil.id, SpendingRules(daily_limit=25_000, banned_categories=["sweets"])
    )
    till = make_device(school.id, "till")
    key = {"X-Device-Key": till.key}
    soup = {"name": "Суп", "category": "hot_meal", "price": 12_000}
    cake = {"name": "Пирожное", "category": "sweets", "price": 8_000}

    def ask(request_id: str, amount: int, *items: dict[str, object]) -> dict[str, object]:
        response = client.post(
            AUTHORIZE,
            json={"request_id": request_id, "uid": pupil.uid, "amount": amount, "items": items},
            headers=key,
        )
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result

    approved = ask("r1", 12_000, soup)
    assert approved["approved"] is True
    assert ask("r1", 12_000, soup) == approved  # the till asked twice: one hold
    banned = ask("r2", 8_000, cake)
    assert (banned["approved"], banned["reason"]) == (False, "banned")
    assert banned["message"] == "Запрещённая категория питания."
    over_limit = ask("r3", 14_000, soup)  # 12,000 held + 14,000 > 25,000 a day
    assert (over_limit["approved"], over_limit["reason"]) == (False, "limit")
    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert (mine.balance, mine.available) == (30_000, 18_000)

    now = utcnow()
    sold = event(
        "p1",
        "purchase",
        pupil.uid,
        now,
        amount=12_000,
        items=[soup],
        authorization_id=approved["authorization_id"],
    )
    body = client.post(EVENTS, json={"events": [sold]}, headers=key).json()
    assert body["accepted"] == 1
    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert (mine.balance, mine.available, mine.spent_today) == (18_000, 18_000, 12_000)
    # The hold is used once: a second purchase naming it is refused.
    again = dict(sold, event_id="p2")
    body = client.post(EVENTS, json={"events": [again]}, headers=key).json()
    assert [r["code"] for r in body["refused"]] == ["cards_hold_not_found"]
    day = service.list_card_events(parent.principal, pupil.id, now=now)
    assert [(e.kind, e.reason) for e in day if e.kind == "declined"] == [
        ("declined", "banned"),
        ("declined", "limit"),
    ]
    # A hold no purchase used gives its sum back when it expires.
    held = ask("r4", 5_000, soup)
    assert held["approved"] is True
    assert service.get_my_pupil(parent.principal, pupil.id).available == 13_000
    assert service.expire_holds(SYSTEM, now=now + timedelta(minutes=6)) == 1
    assert service.get_my_pupil(parent.principal, pupil.id).available == 18_000


def _refusal(answer: Response) -> tuple[int, str, list[tuple[str, str]]]:
    error = answer.json()["error"]
    fields = [(f["field"], f["message"]) for f in error.get("fields", [])]
    return answer.status_code, error["code"], fields


def test_a_malformed_batch_body_is_refused_in_the_callers_language_and_stores_nothing(
    client: TestClient,
) -> None:
    """What is not a batch at all (not JSON, not an object, no list of rows, a row that is
    not an object) is refused as a whole, naming the place, in Russian or English; a good
    key is still needed first, and a bad JSON text is refused before the key is looked at."""
    school = make_school()
    _parent, pupil = enrolled_child(school)
    key = {"X-Device-Key": make_device(school.id).key}
    good = event("m1", "entry", pupil.uid, yesterday_at(8, 10))
    english = {**key, "Accept-Language": "en", "Content-Type": "application/json"}
    russian = {**key, "Accept-Language": "ru", "Content-Type": "application/json"}

    def post(body: bytes, headers: dict[str, str] = english) -> Response:
        answer: Response = client.post(EVENTS, content=body, headers=headers)
        return answer

    required = [("events", "This field is required.")]
    invalid = [("events", "This value is not valid.")]
    for body in (b"", b"null", b"[]", b'"events"', b"{}", b'{"rows": []}'):
        assert _refusal(post(body)) == (422, "invalid_input", required), body
    for body in (b'{"events": {}}', b'{"events": "m1"}', b'{"events": null}'):
        assert _refusal(post(body)) == (422, "invalid_input", invalid), body
    second_not_a_row = json.dumps({"events": [good, [good]]}).encode()
    assert _refusal(post(second_not_a_row)) == (
        422, "invalid_input", [("events.1", "This value is not valid.")]
    )  # fmt: skip
    # Not JSON: the place where the text stops making sense, counted in characters.
    assert _refusal(post(b'{"events": [}')) == (
        422, "invalid_input", [("12", "This value is not valid.")]
    )  # fmt: skip
    assert _refusal(post(b'\xff{"events": []}')) == (400, "bad_request", [])
    # A JSON batch sent as another type, or with none, is not read as JSON.
    plain = json.dumps({"events": [good]}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        answer = post(plain, {**english, "Content-Type": content_type})
        assert _refusal(answer) == (422, "invalid_input", required), content_type
    assert _refusal(post(b"{}", russian)) == (
        422, "invalid_input", [("events", "Это поле обязательно.")]
    )  # fmt: skip
    assert post(b"{}", russian).json()["error"]["message"] == "Некоторые поля заполнены неверно."
    assert post(b"{]", russian).json()["error"]["message"] == "Некоторые поля заполнены неверно."
    assert post(b"\xff", russian).json()["error"]["message"] == "Запрос не удалось разобрать."
    # The key comes first for a body that is JSON; a text that is not JSON is refused before.
    stranger = {**english, "X-Device-Key": "dev_x"}
    assert post(b"{}", stranger).status_code == 401
    assert post(b"{]", stranger).status_code == 422
    assert count_rows(CardEvent) == 0
    # The same batch, well formed (with a media type's parameters, or as a +json type).
    for content_type in ("application/json; charset=utf-8", "application/vnd.batch+json"):
        answer = post(plain, {**english, "Content-Type": content_type})
        assert answer.status_code == 200, content_type
    assert count_rows(CardEvent) == 1


def test_a_batch_holds_up_to_500_rows_and_501_is_refused_saying_the_limit(
    client: TestClient,
) -> None:
    """A turnstile may send 500 rows at once; one more and the batch is refused whole with
    the limit named (as over MQTT), in the device's language, and nothing is stored."""
    school = make_school()
    _parent, pupil = enrolled_child(school)
    key = {"X-Device-Key": make_device(school.id).key}
    morning = yesterday_at(8, 0)
    rows = [event(f"b{n}", "entry", pupil.uid, morning + timedelta(seconds=n)) for n in range(501)]
    too_many = client.post(EVENTS, json={"events": rows}, headers={**key, "Accept-Language": "en"})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "cards_batch_too_large"
    assert too_many.json()["error"]["message"] == "A batch has at most 500 events."
    russian = client.post(EVENTS, json={"events": rows}, headers={**key, "Accept-Language": "ru"})
    assert russian.json()["error"]["message"] == "В пакете не больше 500 событий."
    assert count_rows(CardEvent) == 0
    full = client.post(EVENTS, json={"events": rows[:500]}, headers=key)
    assert full.json() == {"accepted": 500, "duplicates": 0, "refused": []}
    assert count_rows(CardEvent) == 500
