"""The shared header: the unread count beside "Notifications" on every page, and the
site's icon."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from infocity.core.uow import UnitOfWork
from infocity.portal import service
from tests.builders import login_page_client, make_citizen, make_staff
from tests.test_inbox import send_notices


def _badge(html: str) -> str | None:
    link = re.search(r'<a href="/inbox" id="nav-inbox">(.*?)</a>', html, re.S)
    assert link, "the header links to the inbox"
    badge = re.search(
        r'<span class="badge">(\d+)<span class="visually-hidden"> ([^<]+)</span>', link.group(1)
    )
    return f"{badge.group(1)} {badge.group(2)}" if badge else None


def test_every_page_shows_how_many_messages_are_unread(client: TestClient, uow: UnitOfWork) -> None:
    anna, boris = make_citizen(), make_citizen()
    first, *_ = send_notices(uow, anna, "Water", "Heating", "Gas", "Lifts", "Roof")
    send_notices(uow, boris, "Electricity")
    login_page_client(client, anna.identifier, anna.password)
    assert service.unread_count(anna.principal) == 5

    for path in ("/", "/cabinet", "/my", "/health", "/housing", "/inbox"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert _badge(page.text) == "5 непрочитанных сообщений", path

    client.get(f"/inbox/{first}")  # reading one lowers the count at once
    assert _badge(client.get("/my").text) == "4 непрочитанных сообщения"

    client.cookies.set("lang", "en")
    assert _badge(client.get("/my").text) == "4 unread messages"


def test_no_badge_when_nothing_is_unread(client: TestClient) -> None:
    staff = make_staff("city_admin")
    login_page_client(client, staff.identifier, staff.password)
    page = client.get("/staff")
    assert page.status_code == 200
    assert _badge(page.text) is None


@pytest.mark.parametrize("path", ["/", "/login"])
def test_pages_link_the_icon_and_favicon_ico_answers(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
