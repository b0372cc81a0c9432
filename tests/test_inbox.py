"""The in-app inbox: pages and JSON API. A user sees and changes only their own."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.errors import NotFound, Unauthenticated
from infocity.core.models import InboxMessage
from infocity.core.outbox import Recipient, notify
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from infocity.portal import service
from tests.builders import Account, api_token, bearer, login_page_client, make_citizen, make_staff

TEMPLATE = "portal/notifications/service_notice.txt"


def send_notices(uow: UnitOfWork, account: Account, *titles: str) -> list[int]:
    """Notify ``account`` in the inbox, deliver, return the new inbox ids (oldest first)."""
    recipient = Recipient(user_id=account.id, locale=account.principal.locale)
    with uow:
        before = set(uow.session.scalars(select(InboxMessage.id)))
    for title in titles:
        with uow:
            notify(
                uow.session,
                recipient,
                kind="service_notice",
                template=TEMPLATE,
                context={"title": title, "name": "Анна", "text": f"About {title}."},
                link="/cabinet",
                channels=["inbox"],
            )
            uow.commit()
    Worker("test").deliver_due()
    with uow:
        ids = uow.session.scalars(
            select(InboxMessage.id)
            .where(InboxMessage.user_id == account.id)
            .order_by(InboxMessage.id)
        )
        return [i for i in ids if i not in before]


def read_at(uow: UnitOfWork, message_id: int) -> object:
    with uow:
        return uow.session.scalar(select(InboxMessage.read_at).where(InboxMessage.id == message_id))


def test_service_lists_reads_and_counts_only_the_users_own(uow: UnitOfWork) -> None:
    anna, boris = make_citizen(), make_citizen()
    first, second = send_notices(uow, anna, "Water", "Heating")
    [other] = send_notices(uow, boris, "Electricity")

    listing = service.list_inbox(anna.principal)
    mine = [m for m in listing.items if m.id in (first, second)]
    assert [m.id for m in mine] == [second, first]  # newest first
    assert other not in [m.id for m in listing.items]
    unread_before = service.unread_count(anna.principal)

    shown = service.read_message(anna.principal, first)
    assert shown.read_at is not None
    assert service.read_message(anna.principal, first).read_at == shown.read_at  # kept
    assert service.unread_count(anna.principal) == unread_before - 1
    assert first not in [m.id for m in service.list_inbox(anna.principal, unread_only=True).items]

    with pytest.raises(NotFound):
        service.read_message(anna.principal, other)
    with pytest.raises(NotFound):
        service.get_message(anna.principal, other)
    assert read_at(uow, other) is None

    assert service.mark_all_read(anna.principal) >= 1
    assert service.unread_count(anna.principal) == 0
    assert service.unread_count(boris.principal) == 1
    with pytest.raises(Unauthenticated):
        service.list_inbox(None)


def test_staff_have_an_inbox_too(uow: UnitOfWork) -> None:
    analyst = make_staff("analyst")
    [message_id] = send_notices(uow, analyst, "Report ready")
    assert [m.id for m in service.list_inbox(analyst.principal).items] == [message_id]


def test_inbox_pages(client: TestClient, uow: UnitOfWork) -> None:
    anna, boris = make_citizen(), make_citizen()
    first, second = send_notices(uow, anna, "Water", "Heating")
    [other] = send_notices(uow, boris, "Electricity")

    assert client.get("/inbox", follow_redirects=False).headers["location"].startswith("/login")
    login_page_client(client, anna.identifier, anna.password)

    page = client.get("/inbox")
    assert page.status_code == 200
    assert "Уведомление городской службы: Heating" in page.text
    assert "Electricity" not in page.text
    assert f'<a href="/inbox/{first}"><strong>' in page.text  # unread in bold

    message = client.get(f"/inbox/{first}")
    assert message.status_code == 200
    assert "About Water." in message.text
    assert 'href="/cabinet"' in message.text
    assert read_at(uow, first) is not None
    assert f'<a href="/inbox/{first}"><strong>' not in client.get("/inbox").text

    foreign = client.get(f"/inbox/{other}")
    assert foreign.status_code == 404
    assert "Electricity" not in foreign.text
    assert read_at(uow, other) is None
    assert client.get("/inbox/99999999999999999999").status_code in (404, 422)

    # Mark all read: refused without the form's CSRF token, done with it.
    assert client.post("/inbox/read-all", data={}).status_code == 403
    assert read_at(uow, second) is None
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/inbox").text)
    assert token
    done = client.post(
        "/inbox/read-all", data={"csrf_token": token.group(1)}, follow_redirects=True
    )
    assert "Все сообщения отмечены как прочитанные." in done.text
    assert read_at(uow, second) is not None
    assert read_at(uow, other) is None


def test_inbox_api(client: TestClient, uow: UnitOfWork) -> None:
    anna, boris = make_citizen(), make_citizen()
    first, second = send_notices(uow, anna, "Water", "Heating")
    [other] = send_notices(uow, boris, "Electricity")
    headers = bearer(api_token(client, anna.identifier, anna.password))

    assert client.get("/api/v1/inbox").status_code == 401
    listing = client.get("/api/v1/inbox", headers=headers).json()
    ids = [item["id"] for item in listing["items"]]
    assert ids.index(second) < ids.index(first)
    assert other not in ids
    unread = listing["unread"]

    one = client.get(f"/api/v1/inbox/{first}", headers=headers).json()
    assert one["subject"] == "Уведомление городской службы: Water"
    assert one["read_at"] is None
    read = client.post(f"/api/v1/inbox/{first}/read", headers=headers)
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    count = client.get("/api/v1/inbox/unread-count", headers=headers).json()
    assert count == {"unread": unread - 1}

    for response in (
        client.get(f"/api/v1/inbox/{other}", headers=headers),
        client.post(f"/api/v1/inbox/{other}/read", headers=headers),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "message_not_found"
    assert read_at(uow, other) is None

    assert client.get("/api/v1/inbox?limit=1000", headers=headers).status_code == 422
    assert client.get("/api/v1/inbox/0", headers=headers).status_code == 422
    only_unread = client.get("/api/v1/inbox?unread_only=true&limit=1", headers=headers).json()
    assert len(only_unread["items"]) == 1
    assert only_unread["limit"] == 1
    assert all(item["read_at"] is None for item in only_unread["items"])
    marked = client.post("/api/v1/inbox/read-all", headers=headers).json()
    assert marked == {"marked": unread - 1}
    assert read_at(uow, other) is None
