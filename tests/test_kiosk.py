"""The polyclinic's touch screen: it stays inside itself, prints the ticket with a button,
keeps nothing after "Finish" and forgets an idle patient by itself."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
import time_machine
from fastapi.testclient import TestClient

from infocity.core.db import utcnow
from tests.builders import csrf_token
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)

BIRTH = date(1980, 5, 17)
POLICY = "7700000000001234"
IDLE_SECONDS = 120


@pytest.fixture
def patient(database: str) -> None:
    clinic = make_clinic()
    practitioner = make_practitioner(clinic.id, "therapist")
    make_slots(practitioner.id, city_today() + timedelta(days=1))
    person = make_patient(BIRTH, oms_policy=POLICY)
    assert person.person_id is not None
    attach(person.person_id, clinic.id)


def _post(client: TestClient, path: str, data: dict[str, str]) -> httpx.Response:
    form = {**data, "csrf_token": csrf_token(client, "/kiosk")}
    response: httpx.Response = client.post(path, data=form, follow_redirects=False)
    return response


def _identify(client: TestClient) -> None:
    response = _post(client, "/kiosk", {"oms_policy": POLICY, "birth_date": BIRTH.isoformat()})
    assert response.status_code == 303


def _book(client: TestClient) -> str:
    """Identify, choose the first time and confirm; the ticket's path."""
    _identify(client)
    slots = client.get("/kiosk/slots", params={"specialty": "therapist"})
    link = re.findall(r'href="(/kiosk/confirm[^"]+)"', slots.text)[0].replace("&amp;", "&")
    confirm = client.get(link)
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    booked = client.post("/kiosk/book", data=fields, follow_redirects=False)
    assert booked.status_code == 303
    location: str = booked.headers["location"]
    return location


def _links(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'<a [^>]*href="([^"]*)"', html)]


def test_kiosk_pages_lead_nowhere_but_the_kiosk(patient: None, client: TestClient) -> None:
    start = client.get("/kiosk")
    ticket_path = _book(client)
    pages = [start, client.get("/kiosk/specialties"), client.get(ticket_path)]
    slots = client.get("/kiosk/slots", params={"specialty": "therapist"})
    pages.append(slots)
    for page in pages:
        assert page.status_code == 200
        assert '<a class="brand" href="/kiosk">' in page.text
        for href in _links(page.text):
            # The skip link, the kiosk itself, and the language switch that returns to it.
            assert href == "#main" or href.startswith(("/kiosk", "/lang/")), href
            if href.startswith("/lang/"):
                assert "next=/kiosk" in href.replace("%2F", "/"), href
        # The screen's own timer is there, set to the server's idle time.
        assert '<script src="/static/kiosk.js" defer></script>' in page.text
        assert f'data-idle-seconds="{IDLE_SECONDS}"' in page.text


def test_the_site_outside_the_kiosk_keeps_its_home_link(client: TestClient) -> None:
    page = client.get("/login")
    assert '<a class="brand" href="/">' in page.text
    assert "kiosk.js" not in page.text
    assert "data-idle-seconds" not in page.text


@pytest.mark.parametrize(
    ("lang", "label"), [("ru", "Распечатать талон"), ("en", "Print the ticket")]
)
def test_ticket_has_a_print_button_not_a_keyboard_shortcut(
    patient: None, client: TestClient, lang: str, label: str
) -> None:
    client.cookies.set("lang", lang)
    ticket = client.get(_book(client))
    assert ticket.status_code == 200
    assert "Ctrl+P" not in ticket.text
    assert re.search(
        r'<button type="button" id="print-ticket" data-print hidden>' + label, ticket.text
    )
    # The CSP allows scripts only from the site itself: the button's script is a file.
    assert '<script src="/static/print.js" defer></script>' in ticket.text
    assert "<script>" not in ticket.text
    script = client.get("/static/print.js")
    assert script.status_code == 200
    assert "window.print()" in script.text


def test_after_finish_the_ticket_is_neither_cached_nor_shown_again(
    patient: None, client: TestClient
) -> None:
    ticket_path = _book(client)
    ticket = client.get(ticket_path)
    assert ticket.headers["cache-control"] == "no-store"
    finished = _post(client, "/kiosk/finish", {})
    assert finished.status_code == 303
    assert finished.headers["cache-control"] == "no-store"
    assert "infocity_kiosk" not in client.cookies
    # "Back" asks again (nothing was stored) and gets the start page, not the ticket.
    again = client.get(ticket_path)
    assert again.headers["cache-control"] == "no-store"
    assert str(again.url).endswith("/kiosk?expired=1")
    assert "Талон" not in again.text
    assert 'action="/kiosk"' in again.text


def test_an_idle_session_ends_by_itself_after_two_minutes(
    patient: None, client: TestClient
) -> None:
    start = utcnow().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        _identify(client)
        cookie = client.cookies["infocity_kiosk"]
        # Each page within the idle time renews it.
        clock.move_to(start + timedelta(seconds=IDLE_SECONDS - 1))
        renewed = client.get("/kiosk/specialties", follow_redirects=False)
        assert renewed.status_code == 200
        clock.move_to(start + timedelta(seconds=2 * IDLE_SECONDS - 2))
        assert client.get("/kiosk/specialties", follow_redirects=False).status_code == 200
        cookie = client.cookies["infocity_kiosk"]
        # Two idle minutes later the server refuses the very same cookie, even from a
        # browser that kept it.
        clock.move_to(start + timedelta(seconds=3 * IDLE_SECONDS))
        with TestClient(client.app, base_url="http://testserver") as other:
            late = other.get(
                "/kiosk/specialties",
                headers={"cookie": f"infocity_kiosk={cookie}"},
                follow_redirects=False,
            )
        assert late.status_code == 303
        assert late.headers["location"] == "/kiosk?expired=1"
