"""What services plug into the portal: kinds of application, and cards of the cabinet.

A service that takes applications through the portal registers its type in its own
module ``infocity/<service>/applications.py`` (found and imported on first use, like
``jobs`` modules), with ``register_application_type(...)``: the typed form, who is
responsible, the term, and what happens on approval. See ``docs/portal.md``.

A service that shows the citizen something in their cabinet (``/my``) registers a card
in ``infocity/<service>/cabinet.py`` with ``register_cabinet_card(...)``: a function that
reads the citizen's things through the service's own use cases, in the cabinet's
transaction.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

import infocity
from infocity.core.auth import Principal
from infocity.core.uow import UnitOfWork
from infocity.portal.errors import ApplicationTypeNotFound
from infocity.portal.schemas import CabinetCardContent

FormT = TypeVar("FormT", bound=BaseModel)


@dataclass(frozen=True)
class Routing:
    """Where an application goes, decided from its form when it is saved or submitted."""

    organisation_id: int  # the organisation whose back office processes it
    person_id: int | None = None  # whom it is for (the applicant or their child)
    summary: str = ""  # one line for lists, e.g. the chosen polyclinic's name


@dataclass(frozen=True)
class Approval:
    """What an ``on_approved`` hook is told about the approved application."""

    application_id: int
    applicant_user_id: int
    person_id: int | None
    organisation_id: int
    actor: Principal  # the staff member who approved
    now: datetime


# resolve(form, applicant, uow) -> Routing: checks what a form alone cannot (the applicant
# may act for the person, the clinic exists...) raising AppError with ``field`` set.
Resolver = Callable[[FormT, Principal, UnitOfWork], Routing]
# on_approved(form, approval, uow): runs in the approving transaction; calling the owning
# service's service.py with ``uow=uow`` joins it. An AppError rolls the approval back.
ApprovedHook = Callable[[FormT, Approval, UnitOfWork], None]
# field_options(applicant, uow) -> {field: [(value, label), ...]}: choices for a page's form.
OptionsHook = Callable[[Principal, UnitOfWork], dict[str, list[tuple[str, str]]]]


@dataclass(frozen=True)
class ApplicationType(Generic[FormT]):
    code: str
    title: str  # English message id (mark it with N_), translated where shown
    description: str
    form: type[FormT]
    resolve: Resolver[FormT]
    on_approved: ApprovedHook[FormT] | None
    deadline_days: int
    working_days: bool
    service_code: str  # the catalogue service whose use a submission records
    field_options: OptionsHook | None


_TYPES: dict[str, ApplicationType[Any]] = {}
_discovered = False
_lock = threading.Lock()


def register_application_type(
    code: str,
    *,
    title: str,
    form: type[FormT],
    resolve: Resolver[FormT],
    deadline_days: int,
    working_days: bool = True,
    on_approved: ApprovedHook[FormT] | None = None,
    description: str = "",
    service_code: str | None = None,
    field_options: OptionsHook | None = None,
) -> ApplicationType[FormT]:
    """Register a kind of application; call it at import time of ``<service>/applications.py``.

    ``code`` is stable (it is stored in every application and used in URLs,
    ``/applications/new/<code>``); registering the same code twice is a programming error.
    """
    if not code.replace("_", "").isalnum() or not code.islower() or len(code) > 60:
        raise ValueError(f"application type code must be lower_snake_case: {code!r}")
    if deadline_days < 1:
        raise ValueError("deadline_days must be at least 1")
    entry = ApplicationType(
        code=code,
        title=title,
        description=description,
        form=form,
        resolve=resolve,
        on_approved=on_approved,
        deadline_days=deadline_days,
        working_days=working_days,
        service_code=service_code or code,
        field_options=field_options,
    )
    with _lock:
        existing = _TYPES.get(code)
        if existing is not None and existing.form is not form:
            raise ValueError(f"application type {code!r} is already registered")
        _TYPES[code] = entry
    return entry


# The modules a service plugs into the portal with, imported by ``discover``.
PLUG_INS = ("applications", "cabinet")


def discover() -> None:
    """Import ``infocity.<service>.applications`` and ``.cabinet`` of every service, once."""
    global _discovered
    if _discovered:
        return
    for module in pkgutil.iter_modules(infocity.__path__):
        if not module.ispkg or module.name == "core":
            continue
        for kind in PLUG_INS:
            name = f"infocity.{module.name}.{kind}"
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
    _discovered = True


def application_types() -> list[ApplicationType[Any]]:
    """Every registered type, by code."""
    discover()
    return [_TYPES[code] for code in sorted(_TYPES)]


def application_type(code: str) -> ApplicationType[Any]:
    """The registered type ``code``, or NotFound ("application_type_not_found")."""
    discover()
    entry = _TYPES.get(code)
    if entry is None:
        raise ApplicationTypeNotFound()
    return entry


def find_application_type(code: str) -> ApplicationType[Any] | None:
    """The registered type ``code``, or None (an old application of a removed type)."""
    discover()
    return _TYPES.get(code)


# --- Cards of the citizen's cabinet ----------------------------------------------------

# build(actor, now, uow) -> the card's items, or None where the service is not the
# citizen's (no such right): the card is then left out. It runs in the cabinet's
# transaction: call the service's own use cases with ``uow=uow`` and ``now=now``.
CardBuilder = Callable[[Principal, datetime, UnitOfWork], CabinetCardContent | None]


@dataclass(frozen=True)
class CabinetCard:
    code: str
    title: str  # English message id (mark it with N_), translated where shown
    order: int  # cards are shown by this number, smallest first
    build: CardBuilder


_CARDS: dict[str, CabinetCard] = {}


def register_cabinet_card(code: str, *, title: str, order: int, build: CardBuilder) -> CabinetCard:
    """Register a card of the cabinet; call it at import time of ``<service>/cabinet.py``.

    ``code`` is stable (pages and the API name the card by it); registering another
    function under the same code is a programming error.
    """
    if not code.replace("_", "").isalnum() or not code.islower() or len(code) > 60:
        raise ValueError(f"cabinet card code must be lower_snake_case: {code!r}")
    card = CabinetCard(code=code, title=title, order=order, build=build)
    with _lock:
        existing = _CARDS.get(code)
        if existing is not None and existing.build is not build:
            raise ValueError(f"cabinet card {code!r} is already registered")
        _CARDS[code] = card
    return card


def cabinet_cards() -> list[CabinetCard]:
    """Every registered card, in the cabinet's order."""
    discover()
    return sorted(_CARDS.values(), key=lambda card: (card.order, card.code))
