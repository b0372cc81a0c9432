"""The demo mailbox: where e-mail and SMS go when the demo has no mail server or gateway.

With ``INFOCITY_DEMO_MAILBOX`` on (the default in development, refused in production) the
e-mail and SMS channels keep each message in ``demo_mailbox`` instead of sending it, and
the page ``/demo/mailbox`` lists them to anyone, so that a person trying the demo can
open a password-reset or verification link without a mail server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select

from infocity.core.db import get_engine
from infocity.core.models import DemoMail
from infocity.core.sql import upsert_insert

# The page shows the newest messages; a demo does not need more.
PAGE_SIZE = 50


@dataclass(frozen=True)
class DemoMailRead:
    """One message as the demo mailbox page shows it."""

    channel: str
    address: str
    subject: str
    text: str
    created_at: datetime


def keep(
    *, outbox_id: str, channel: str, address: str, subject: str, text: str, at: datetime
) -> None:
    """Keep one outgoing message (once, whatever the delivery attempts)."""
    table = DemoMail.__table__
    assert isinstance(table, Table)
    engine = get_engine()
    dialect_insert = upsert_insert(engine)
    statement = (
        dialect_insert(table)
        .values(
            outbox_id=outbox_id,
            channel=channel,
            address=address,
            subject=subject[:300],
            text=text,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["outbox_id"])
    )
    with engine.begin() as connection:
        connection.execute(statement)


def recent(limit: int = PAGE_SIZE) -> list[DemoMailRead]:
    """The newest messages in the demo mailbox, newest first."""
    with get_engine().connect() as connection:
        rows = connection.execute(
            select(
                DemoMail.channel,
                DemoMail.address,
                DemoMail.subject,
                DemoMail.text,
                DemoMail.created_at,
            )
            .order_by(DemoMail.created_at.desc(), DemoMail.id.desc())
            .limit(limit)
        ).all()
    return [DemoMailRead(**row._asdict()) for row in rows]
