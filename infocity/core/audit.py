"""The audit log: every staff access to a citizen's personal data, every admin act."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from contextvars import ContextVar
from functools import cache

from sqlalchemy.orm import Session

import infocity
from infocity.core.auth import Principal, Role
from infocity.core.models import AuditEntry

# Set by the web layer for each request, so entries can be matched to request logs.
request_id_var: ContextVar[str | None] = ContextVar("infocity_request_id", default=None)


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    *,
    subject_person_id: int | None = None,
    organisation_id: int | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """Add an audit entry in the caller's transaction (the access and its record commit
    together, or neither does)."""
    role: Role | None = None
    if actor is not None and actor.grants:
        role = actor.grants[0].role
        if organisation_id is None:
            organisation_id = actor.grants[0].organisation_id
    entry = AuditEntry(
        actor_user_id=actor.acting_user_id if actor else None,
        actor_role=role.value if role else None,
        organisation_id=organisation_id,
        action=action,
        subject_person_id=subject_person_id,
        detail=detail,
        request_id=request_id_var.get(),
    )
    session.add(entry)
    return entry


@cache
def action_labels() -> Mapping[str, str]:
    """Every action code the services record, with its label (an English message id).

    Each service names its own codes in the ``AUDIT_ACTIONS`` table of its ``rules``, so a
    new service adds its labels beside its rules and no one else's module changes.
    """
    labels: dict[str, str] = {}
    for module in pkgutil.iter_modules(infocity.__path__):
        if not module.ispkg:
            continue
        try:
            rules = importlib.import_module(f"infocity.{module.name}.rules")
        except ModuleNotFoundError as missing:
            if missing.name != f"infocity.{module.name}.rules":
                raise
            continue
        labels.update(getattr(rules, "AUDIT_ACTIONS", {}))
    return labels
