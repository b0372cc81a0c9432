"""Client systems of the FHIR API: registered by a city administrator with the scopes
they may use, they exchange their credentials for short-lived signed bearer tokens
(OAuth client credentials, SMART's backend services without the signed assertion)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.core import audit
from infocity.core.auth import SYSTEM, Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.security import new_token, token_hash
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import FhirClient
from infocity.health.schemas import (
    FhirClientCreate,
    FhirClientIssued,
    FhirClientRead,
    FhirTokenRead,
    PatientRead,
)

TOKEN_PREFIX = "fhir."  # noqa: S105 - tells a client system's token from a citizen's
TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class FhirClientAccess:
    """A client system's token, verified: who, and what it may do."""

    client_id: str
    name: str
    scopes: frozenset[str]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="health-fhir-token")


def register_fhir_client(
    actor: Principal | None,
    data: FhirClientCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> FhirClientIssued:
    """A city administrator registers a client system; its secret is shown only now."""
    actor = authorize(actor, Action.FHIR_CLIENT_REGISTER)
    scopes = sorted(set(data.scopes))
    if not set(scopes) <= rules.FHIR_SYSTEM_SCOPES:
        raise errors.InvalidScope()
    now = now or utcnow()
    secret = new_token()
    uow = uow or UnitOfWork()
    with uow:
        client = FhirClient(
            client_id=new_token(12),
            name=data.name.strip(),
            secret_hash=token_hash(secret),
            scopes=" ".join(scopes),
            created_by_user_id=actor.user_id,
            created_at=now,
        )
        uow.session.add(client)
        uow.session.flush()
        audit.record(
            uow.session, actor, "health.fhir_client.register", detail=f"client {client.id}"
        )
        result = FhirClientIssued(
            **FhirClientRead.model_validate(client).model_dump(), client_secret=secret
        )
        uow.commit()
        return result


def _active_client(uow: UnitOfWork, client_id: str) -> FhirClient | None:
    return uow.session.scalars(
        select(FhirClient).where(FhirClient.client_id == client_id, FhirClient.active.is_(True))
    ).one_or_none()


def issue_fhir_token(
    client_id: str, client_secret: str, scope: str | None = None, *, uow: UnitOfWork | None = None
) -> FhirTokenRead:
    """A bearer token for a registered client system, with the scopes asked for (all of
    its own when none are named); an unknown client or a wrong secret is refused alike."""
    uow = uow or UnitOfWork()
    with uow:
        client = _active_client(uow, client_id[:64])
        given = token_hash(client_secret)
        if client is None or not hmac.compare_digest(given, client.secret_hash):
            raise errors.InvalidClient()
        granted = set(client.scopes.split())
        asked = set(scope.split()) if scope else granted
        if not asked <= granted:
            raise errors.InvalidScope()
        chosen = " ".join(sorted(asked))
        token = TOKEN_PREFIX + _serializer().dumps({"c": client.client_id, "s": chosen})
        return FhirTokenRead(access_token=token, expires_in=TOKEN_SECONDS, scope=chosen)


def fhir_client_access(token: str, *, uow: UnitOfWork | None = None) -> FhirClientAccess | None:
    """The client system a bearer token was issued to, if the token is genuine, not
    expired, and the client still registered with those scopes; else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    try:
        value = _serializer().loads(token[len(TOKEN_PREFIX) :], max_age=TOKEN_SECONDS)
    except BadSignature:  # also an expired one
        return None
    if not isinstance(value, dict) or not isinstance(value.get("c"), str):
        return None
    uow = uow or UnitOfWork()
    with uow:
        client = _active_client(uow, value["c"])
        if client is None:
            return None
        scopes = frozenset(str(value.get("s", "")).split()) & set(client.scopes.split())
        return FhirClientAccess(client.client_id, client.name, scopes)


def find_patient_by_policy(
    access: FhirClientAccess, oms_policy: str, *, uow: UnitOfWork | None = None
) -> list[PatientRead]:
    """The patient holding this OMS policy, for a client system granted Patient.read
    (the call centre, another clinic's system): to book for them."""
    if not rules.fhir_scope_allows(access.scopes, "system", "Patient", "read"):
        raise errors.ScopeNotGranted()
    uow = uow or UnitOfWork()
    with uow:
        facts = accounts.person_by_policy(uow.session, oms_policy)
        if facts is None:
            return []
        names = accounts.person_names(uow.session, [facts.person_id])
        audit.record(
            uow.session,
            SYSTEM,
            "health.fhir.patient_lookup",
            subject_person_id=facts.person_id,
            detail=f"client {access.client_id} ({access.name})",
        )
        uow.commit()
        return [
            PatientRead(
                id=facts.person_id,
                name=names.get(facts.person_id, facts.first_name),
                birth_date=facts.birth_date,
                is_self=False,
                sex=facts.sex,
            )
        ]
