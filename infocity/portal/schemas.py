"""What the portal service takes and gives: Pydantic models ``XCreate/XUpdate/XRead``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# Row ids: anything larger would overflow the database's BIGINT and fail as a 500.
MAX_ID = 2**63 - 1
MAX_PAGE_SIZE = 100


class InboxMessageRead(BaseModel):
    """A notification in the citizen's cabinet; ``read_at`` is null while unread."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    subject: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class InboxPageRead(BaseModel):
    """One page of the inbox, newest first, with the totals for paging and badges."""

    items: list[InboxMessageRead]
    total: int = Field(description="Messages matching the filter.")
    unread: int = Field(description="Unread messages in the whole inbox.")
    limit: int
    offset: int


class UnreadCountRead(BaseModel):
    unread: int


class MarkedReadRead(BaseModel):
    """How many messages a "mark all as read" changed."""

    marked: int
