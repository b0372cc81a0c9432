"""What the portal service takes and gives: Pydantic models ``XCreate/XUpdate/XRead``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from infocity.core.schemas import MAX_ID, Id, InputModel, OutputModel

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


# --- Service catalogue -----------------------------------------------------------------


class CatalogueServiceRead(BaseModel):
    """A city service in the catalogue, in the reader's language."""

    code: str
    category: str
    name: str
    description: str
    audience: str = Field(description="Who may use it.")
    link: str | None = Field(description="Its form or page; null while not online yet.")
    application_type: str | None


class CatalogueCategoryRead(BaseModel):
    code: str
    name: str
    services: list[CatalogueServiceRead]


class CatalogueRead(BaseModel):
    """The catalogue by category; with a query, only the services that match."""

    query: str | None
    categories: list[CatalogueCategoryRead]
    total: int


class MonthlyUsersRead(BaseModel):
    month: int = Field(ge=1, le=12)
    unique_users: int


class UniqueUsersRead(BaseModel):
    """Unique e-service users per month of a year (months of the city's calendar)."""

    year: int
    months: list[MonthlyUsersRead]


# --- Applications ----------------------------------------------------------------------


class ApplicationTypeRead(BaseModel):
    code: str
    title: str
    description: str
    deadline_days: int
    working_days: bool
    form_schema: dict[str, Any] = Field(description="JSON Schema of the form.")


class ApplicationCreate(BaseModel):
    """A new application: its type, the typed form, and whether to submit it at once."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=60)
    form: dict[str, Any] = Field(default_factory=dict)
    submit: bool = Field(default=False, description="Submit now instead of keeping a draft.")


class ApplicationUpdate(BaseModel):
    """A draft's (or an information request's) new form."""

    model_config = ConfigDict(extra="forbid")

    form: dict[str, Any]


# rules.Status, an enum in the OpenAPI document.
ApplicationStatus = Literal[
    "draft",
    "submitted",
    "in_review",
    "needs_information",
    "approved",
    "rejected",
    "completed",
    "withdrawn",
]


class ApplicationRead(BaseModel):
    id: int
    type: str
    type_title: str
    status: ApplicationStatus
    status_label: str
    applicant_user_id: int
    person_id: int | None
    organisation_id: int
    organisation_name: str
    assignee_user_id: int | None
    assignee_name: str | None = Field(
        default=None, description="Who handles it (given to the back office only)."
    )
    summary: str
    form: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    deadline_at: datetime | None
    decided_at: datetime | None
    decision_reason: str | None
    completed_at: datetime | None
    overdue: bool = Field(description="The term has passed while the city has the next step.")


class ApplicationEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    to_status_label: str = ""
    actor_user_id: int | None
    reason: str | None
    created_at: datetime


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=4000)


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_user_id: int
    author_side: Literal["applicant", "staff"]
    body: str
    created_at: datetime


class ApplicationAttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int
    created_at: datetime


class AttachmentFile(BaseModel):
    """An attachment's bytes, for a download."""

    filename: str
    content_type: str
    data: bytes


class ApplicationActionRead(BaseModel):
    """A move the reader may make, named in their language."""

    code: str
    label: str


class FormValueRead(BaseModel):
    """One filled-in field of an application's form, as a person reads it."""

    name: str
    label: str
    value: str


class ApplicationDetailRead(ApplicationRead):
    """One application with its history, comments, attachments and next possible moves."""

    events: list[ApplicationEventRead]
    comments: list[CommentRead]
    attachments: list[ApplicationAttachmentRead]
    moves: list[str] = Field(description="What the reader may do next.")
    actions: list[ApplicationActionRead] = Field(
        default_factory=list, description="The same moves, named in the reader's language."
    )
    form_values: list[FormValueRead] = Field(
        default_factory=list,
        description="The form's filled-in fields by their labels, choices by their names.",
    )


class ApplicationPageRead(BaseModel):
    items: list[ApplicationRead]
    total: int
    limit: int
    offset: int


class QueueFilter(BaseModel):
    """The back office's filter of its queue."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(default=None, max_length=20)
    type: str | None = Field(default=None, max_length=60)
    overdue: bool = False
    mine: bool = Field(default=False, description="Only those assigned to me.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_ID)


class AssignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="A staff member; yourself if not given."
    )


class ColleagueRead(BaseModel):
    """A staff member an application may be given to."""

    user_id: int
    name: str
    me: bool = Field(description="The reader themself.")


class DecisionCreate(BaseModel):
    """A decision; a reason is required to reject or to ask for information."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "request_information"]
    reason: str | None = Field(default=None, max_length=2000)


class AnswerCreate(BaseModel):
    """The applicant's answer to an information request: a comment, and the form again."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=4000)
    form: dict[str, Any] | None = None


# --- The citizen's cabinet (/my) --------------------------------------------------------


class CabinetLinkRead(BaseModel):
    """Where a card sends the citizen to look or to act."""

    href: str
    label: str


class CabinetFactRead(BaseModel):
    """One labelled value of a card's item; ``kind`` says how a page writes the value
    (a sum of money, a day, a month, a moment in the city's time, or text as it is)."""

    label: str
    kind: Literal["text", "money", "day", "month", "moment"] = "text"
    value: str | Decimal | datetime | date


class CabinetItemRead(BaseModel):
    """One thing of the citizen's on a card: an application, an appointment, a debt..."""

    text: str
    href: str | None = None
    note: str | None = Field(default=None, description="Its state, in the reader's language.")
    facts: list[CabinetFactRead] = Field(default_factory=list)
    actions: list[CabinetLinkRead] = Field(default_factory=list)
    attention: bool = Field(default=False, description="Waits for the citizen: answer, pay.")


class CabinetCardContent(BaseModel):
    """What a service's card function gives the cabinet (the title is registered)."""

    items: list[CabinetItemRead]
    empty: str = Field(description="Said instead of the items when there are none.")
    links: list[CabinetLinkRead] = Field(default_factory=list)
    badge: str | None = Field(default=None, description="A count beside the title.")


class CabinetCardRead(CabinetCardContent):
    """One service's card in the citizen's cabinet."""

    code: str
    title: str


class OverviewRead(BaseModel):
    """The citizen's single window: one card per city service, in the cabinet's order."""

    cards: list[CabinetCardRead]
    unread: int = Field(description="Unread notifications in the whole inbox.")


class FormFieldRead(BaseModel):
    """One field of a typed application form, as a page shows it."""

    name: str
    label: str
    hint: str | None
    required: bool
    kind: Literal["text", "textarea", "number", "select"]
    options: list[tuple[str, str]] = Field(default_factory=list)


class ApplicationFormRead(BaseModel):
    code: str
    title: str
    description: str
    fields: list[FormFieldRead]


class CabinetDocumentCreate(InputModel):
    """A document for the cabinet: whom it concerns (the citizen or a child of theirs) and
    its name, number and date as printed on it; the file comes beside."""

    person_id: Id
    title: str = Field(min_length=1, max_length=300)


class CabinetDocumentRead(OutputModel):
    id: int
    person_id: int
    person_name: str
    title: str
    filename: str
    content_type: str
    size: int
    created_at: datetime
