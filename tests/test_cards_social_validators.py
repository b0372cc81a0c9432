"""Transit validators ask whether a card UID gives a reduced fare (with their device key,
cacheable by ETag and max-age) and download the day's stop-list, whose Ed25519 signature
verifies with the published key; the student's and the student office's pages."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts.models import DeviceKey
from infocity.cards import jobs, service
from infocity.cards.schemas.social import SocialCardBlock
from infocity.core.uow import UnitOfWork
from tests.builders import PASSWORD, api_token, bearer, logged_in
from tests.cards_social_builders import (
    active_card,
    make_college,
    ordered_card,
    student,
    validator_key,
)
from tests.support.forms import form_token

ELIGIBILITY = "/api/v1/cards/social/eligibility"
STOP_LIST = "/api/v1/cards/social/stop-list"


def test_validators_check_cards_online_and_hold_a_signed_stop_list(client: TestClient) -> None:
    college = make_college()
    holder, loser = student(), student()
    card, lost = active_card(holder, college), active_card(loser, college)
    assert card.uid is not None
    assert lost.uid is not None
    key = {"X-Device-Key": validator_key()}

    assert client.get(f"{ELIGIBILITY}/{card.uid}").status_code == 401
    till = client.get(f"{ELIGIBILITY}/{card.uid}", headers={"X-Device-Key": validator_key("till")})
    assert till.status_code == 403
    assert till.json()["error"]["code"] == "not_a_validator"

    answer = client.get(f"{ELIGIBILITY}/{card.uid}", headers=key)
    assert answer.status_code == 200
    assert answer.json() == {
        "uid": card.uid,
        "eligible": True,
        "reason": "eligible",
        "valid_until": card.valid_until.isoformat(),
    }
    assert answer.headers["cache-control"] == "private, max-age=60"
    etag = answer.headers["etag"]
    again = client.get(f"{ELIGIBILITY}/{card.uid}", headers={**key, "If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    unknown = client.get(f"{ELIGIBILITY}/04FFFFFFFFFFFF", headers=key).json()
    assert (unknown["eligible"], unknown["reason"]) == (False, "unknown")

    # Blocked: the cached answer is stale, the validator gets the new one.
    service.report_social_card_lost(loser.principal, lost.id, SocialCardBlock(reason="lost"))
    before = client.get(f"{ELIGIBILITY}/{lost.uid}", headers=key)
    assert before.json()["reason"] == "blocked"
    changed = client.get(f"{ELIGIBILITY}/{lost.uid}", headers={**key, "If-None-Match": etag})
    assert changed.status_code == 200

    # The stop-list: none before the job, then the day's, signed.
    assert client.get(STOP_LIST, headers=key).json()["error"]["code"] == "stop_list_not_ready"
    assert jobs.social_stop_list() == 1
    assert jobs.social_stop_list() == 1  # once a day: the second run returns the first
    listed = client.get(STOP_LIST, headers=key)
    assert listed.status_code == 200
    document = json.loads(listed.content)
    assert document["uids"] == [lost.uid]
    assert document["format"] == "infocity.social-card-stop-list/1"
    published = client.get(f"{STOP_LIST}/key").json()
    assert published["key_id"] == listed.headers["x-key-id"] == document["key_id"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(published["public_key"]))
    public.verify(base64.b64decode(listed.headers["x-signature"]), listed.content)  # no raise
    cached = client.get(STOP_LIST, headers={**key, "If-None-Match": listed.headers["etag"]})
    assert cached.status_code == 304


def test_a_validator_is_answered_for_a_uid_as_read_and_refused_in_its_language(
    client: TestClient,
) -> None:
    college = make_college()
    card = active_card(student(), college)
    assert card.uid is not None
    key = validator_key()

    # The UID as a reader may show it: lower case, bytes apart; the answer names it stored.
    typed = ":".join(card.uid[i : i + 2] for i in range(0, len(card.uid), 2)).lower()
    answer = client.get(f"{ELIGIBILITY}/{typed}", headers={"X-Device-Key": key})
    assert answer.json() == {
        "uid": card.uid,
        "eligible": True,
        "reason": "eligible",
        "valid_until": card.valid_until.isoformat(),
    }
    # No UID at all: not eligible, named as asked.
    nonsense = client.get(f"{ELIGIBILITY}/not-a-uid", headers={"X-Device-Key": key})
    assert nonsense.status_code == 200
    assert nonsense.json() == {
        "uid": "not-a-uid",
        "eligible": False,
        "reason": "unknown",
        "valid_until": None,
    }
    assert nonsense.headers["cache-control"] == "private, max-age=60"
    # The validator was seen when it first asked.
    with UnitOfWork() as uow:
        seen = uow.session.scalars(
            select(DeviceKey.last_seen_at).where(DeviceKey.name == "Валидатор 1")
        ).all()
    assert len(seen) == 1
    assert seen[0] is not None

    wrong = client.get(f"{ELIGIBILITY}/{card.uid}", headers={"X-Device-Key": "dev_wrong"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_device_key"
    assert wrong.json()["error"]["message"] == "Ключ устройства неверен или отозван."
    english = {"X-Device-Key": validator_key("turnstile"), "Accept-Language": "en"}
    turnstile = client.get(f"{ELIGIBILITY}/{card.uid}", headers=english)
    assert turnstile.status_code == 403
    assert turnstile.json()["error"]["message"] == "Only transit validators may ask this."
    assert "etag" not in turnstile.headers


def test_the_student_follows_and_blocks_the_card_on_its_page(
    client: TestClient, browser: TestClient
) -> None:
    college, dasha = make_college(), student()
    card = ordered_card(dasha, college)
    page = logged_in(client, dasha).get("/cards/social")
    assert "Заказана" in page.text
    assert "/applications/new/student_social_card" not in page.text  # one card at a time

    office = logged_in(browser, college.office)
    assert office.get("/cards/social", follow_redirects=False).headers["location"] == (
        "/cards/social/college"
    )
    college_page = office.get("/cards/social/college")
    refused = office.post(
        f"/cards/social/college/{card.id}/issue",
        data={"uid": "not a uid", "csrf_token": form_token(college_page)},
    )
    assert refused.status_code == 422
    assert "шестнадцатеричных" in refused.text
    issued = office.post(
        f"/cards/social/college/{card.id}/issue",
        data={"uid": "04A1B2C3D4E5F6", "csrf_token": form_token(college_page)},
    )
    assert issued.status_code == 200
    assert "04A1B2C3D4E5F6" in issued.text

    page = client.get("/cards/social")
    activated = client.post(
        f"/cards/social/{card.id}/activate", data={"csrf_token": form_token(page)}
    )
    assert "Карта активна: валидаторы её принимают." in activated.text
    blocked = client.post(
        f"/cards/social/{card.id}/block",
        data={"reason": "lost", "csrf_token": form_token(page)},
    )
    assert "Заблокирована: Утеряна" in blocked.text
    english = client.get("/cards/social", headers={"Accept-Language": "en"})
    assert "Blocked: Lost" in english.text
    assert "Order a new card" in english.text

    # The app does the same through the JSON API.
    token = bearer(api_token(browser, dasha.identifier, PASSWORD))
    mine = browser.get("/api/v1/cards/social/cards", headers=token).json()
    assert [c["status"] for c in mine] == ["blocked"]
    assert [e["status"] for e in mine[0]["history"]] == ["ordered", "issued", "active", "blocked"]
    new = browser.post(f"/api/v1/cards/social/cards/{card.id}/reissue", headers=token)
    assert new.status_code == 201
    assert new.json()["replaces_card_id"] == card.id
