"""Use cases of state exam results: an exam official imports results, anyone looks them
up by registration code and document number, a logged-in participant or parent
subscribes and is told when a subject is published.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_tz
from infocity.core.db import utcnow
from infocity.core.i18n import N_, gettext
from infocity.core.ratelimit import Limit, hit_many
from infocity.core.security import token_hash
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.education import errors
from infocity.education.models.exams import (
    ExamImport,
    ExamParticipant,
    ExamPublication,
    ExamResult,
    ExamSubscription,
)
from infocity.education.rules import exams as rules
from infocity.education.rules.exams import PublicationMove, PublicationState
from infocity.education.schemas.exams import (
    ExamImportRead,
    ExamLookup,
    ExamResultsRead,
    ExamSubjectResultRead,
    ExamSubscriptionRead,
)

PARTICIPANTS: Table = ExamParticipant.__table__  # type: ignore[assignment]
RESULTS: Table = ExamResult.__table__  # type: ignore[assignment]
PUBLICATIONS: Table = ExamPublication.__table__  # type: ignore[assignment]

LOOKUP_WINDOW_SECONDS = 600
# A family checks a few times an hour on results day; guessing documents for one code
# stops after this many tries in ten minutes.
LOOKUPS_PER_CODE = 20
# A school's or a library's computers share one address: generous, but a crawler of
# codes is stopped.
LOOKUPS_PER_ADDRESS = 300
_CHUNK = 500  # values in one IN list

# The look-up's one statement: the participant's digest and every version of every
# result (the benchmark's bare endpoint sends the same).
LOOKUP = (
    select(
        PARTICIPANTS.c.id,
        PARTICIPANTS.c.document_digest,
        RESULTS.c.subject,
        RESULTS.c.version,
        RESULTS.c.score,
        RESULTS.c.pass_mark,
        RESULTS.c.published_at,
    )
    .outerjoin(RESULTS, RESULTS.c.participant_id == PARTICIPANTS.c.id)
    .where(PARTICIPANTS.c.registration_code == bindparam("code"))
)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# --- Look-up -----------------------------------------------------------------------------


def _count_lookup(uow: UnitOfWork, code: str, ip: str | None) -> None:
    """Count the attempt per code and per address, committed even when it then fails;
    keys are digests, so the counters hold no code or address."""
    limits = [Limit(f"exam-code:{token_hash(code)[:40]}", LOOKUPS_PER_CODE)]
    if ip:
        limits.append(Limit(f"exam-ip:{token_hash(ip)[:40]}", LOOKUPS_PER_ADDRESS))
    hit_many(uow.session, limits, window_seconds=LOOKUP_WINDOW_SECONDS)


def _identified(uow: UnitOfWork, data: ExamLookup, ip: str | None) -> tuple[str, int, list[Any]]:
    """The participant's code, id and result rows, once the attempt is counted and the
    document matches; one refusal for an unknown code and a wrong document alike."""
    code = rules.normalize_registration_code(data.registration_code)
    if code is None:
        raise errors.InvalidRegistrationCode()
    number = rules.normalize_document_number(data.document_number)
    if number is None:
        raise errors.InvalidDocumentNumber()
    _count_lookup(uow, code, ip)
    rows = uow.session.execute(LOOKUP, {"code": code}).all()
    stored = rows[0].document_digest if rows else rules.ABSENT_DIGEST
    matches = hmac.compare_digest(stored, rules.document_digest(code, number))
    if not rows or not matches:
        raise errors.ResultsNotFound()
    return code, int(rows[0].id), list(rows)


def look_up_exam_results(
    data: ExamLookup,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ExamResultsRead:
    """Every subject of the participant whose publication time has passed (its newest
    version), with the pass mark; no login needed. Each attempt counts towards limits
    per registration code and per address."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        code, _, rows = _identified(uow, data, ip)
    versions = [
        rules.Version(row.subject, row.version, row.score, row.pass_mark, row.published_at)
        for row in rows
        if row.subject is not None
    ]
    return ExamResultsRead(
        registration_code=code,
        results=[
            ExamSubjectResultRead(
                subject=item.subject,
                subject_name=gettext(rules.SUBJECT_LABELS.get(item.subject, item.subject)),
                score=item.score,
                pass_mark=item.pass_mark,
                passed=rules.passed(item.score, item.pass_mark),
                version=item.version,
                published_at=item.published_at,
            )
            for item in rules.shown_results(versions, now)
        ],
    )


# --- Import ------------------------------------------------------------------------------


def _refuse(problems: list[rules.RowProblem]) -> errors.ResultsFileRefused:
    return errors.ResultsFileRefused(
        sorted(((p.line, p.message, dict(p.params)) for p in problems), key=lambda r: r[0])
    )


def _known_participants(session: Session, codes: Sequence[str]) -> dict[str, tuple[int, str]]:
    known: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(codes):
        for row in session.execute(
            select(
                PARTICIPANTS.c.registration_code, PARTICIPANTS.c.id, PARTICIPANTS.c.document_digest
            ).where(PARTICIPANTS.c.registration_code.in_(chunk))
        ):
            known[row.registration_code] = (int(row.id), row.document_digest)
    return known


def _latest_versions(
    session: Session, participant_ids: Sequence[int]
) -> dict[tuple[int, str], int]:
    latest: dict[tuple[int, str], int] = {}
    for chunk in _chunks(participant_ids):
        for row in session.execute(
            select(RESULTS.c.participant_id, RESULTS.c.subject, func.max(RESULTS.c.version))
            .where(RESULTS.c.participant_id.in_(chunk))
            .group_by(RESULTS.c.participant_id, RESULTS.c.subject)
        ):
            latest[(int(row[0]), row[1])] = int(row[2])
    return latest


def _add_participants(
    session: Session, rows: Sequence[rules.ResultRow], now: datetime
) -> tuple[dict[str, tuple[int, str]], int, list[rules.RowProblem]]:
    """The participants of the file by code (new ones added); a row whose document does
    not match the one the code was first imported with is a problem."""
    codes = sorted({row.registration_code for row in rows})
    known = _known_participants(session, codes)
    problems = []
    new: dict[str, str] = {}
    for row in rows:
        digest = rules.document_digest(row.registration_code, row.document_number)
        held = known.get(row.registration_code)
        first = new.setdefault(row.registration_code, digest) if held is None else held[1]
        if not hmac.compare_digest(first, digest):
            problems.append(
                rules.RowProblem(
                    row.line,
                    N_("this registration code was imported with another document number"),
                )
            )
    if problems or not new:
        return known, 0, problems
    session.execute(
        upsert_insert(session)(PARTICIPANTS).on_conflict_do_nothing(
            index_elements=["registration_code"]
        ),
        [
            {"registration_code": code, "document_digest": digest, "created_at": now}
            for code, digest in new.items()
        ],
    )
    known = _known_participants(session, codes)
    for code, digest in new.items():
        if known[code][1] != digest:  # a concurrent import took the code first
            raise errors.ImportCollided()
    return known, len(new), []


def _schedule_publications(session: Session, moments: set[tuple[str, datetime]]) -> None:
    """Each (subject, instant) of the file becomes a publication to announce; results
    added to one already announced make it announce again (to the new subscribers)."""
    session.execute(
        upsert_insert(session)(PUBLICATIONS).on_conflict_do_nothing(
            index_elements=["subject", "published_at"]
        ),
        [
            {"subject": subject, "published_at": at, "state": PublicationState.SCHEDULED}
            for subject, at in sorted(moments)
        ],
    )
    pairs = sorted(moments)
    for chunk in _chunks(pairs):
        # Locked first, as the fan-out does before it calls a publication done: either
        # it sees these results, or this reopens what it has just closed.
        session.execute(
            select(PUBLICATIONS.c.id)
            .where(tuple_(PUBLICATIONS.c.subject, PUBLICATIONS.c.published_at).in_(chunk))
            .with_for_update()
        ).all()
        dml(
            session,
            update(PUBLICATIONS)
            .where(
                tuple_(PUBLICATIONS.c.subject, PUBLICATIONS.c.published_at).in_(chunk),
                PUBLICATIONS.c.state.in_(rules.states_before(PublicationMove.MORE_RESULTS)),
            )
            .values(
                state=rules.next_state(PublicationState.ANNOUNCED, PublicationMove.MORE_RESULTS)
            ),
        )


def import_exam_results(
    actor: Principal | None,
    data: str | bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ExamImportRead:
    """Import an exam results file (CSV: registration_code, document_number, subject,
    score, pass_mark, published_at).

    All or nothing: any bad line refuses the whole file, with every bad line's reason. A
    participant's subject imported before gets a new version (a correction); nothing is
    overwritten.
    """
    actor = authorize(actor, Action.EXAM_RESULTS_IMPORT)
    now = now or utcnow()
    try:
        text = rules.decode_results_file(data) if isinstance(data, bytes) else data
    except ValueError as exc:
        raise _refuse(
            [rules.RowProblem(1, N_("the file is neither UTF-8 nor Windows-1251 text"))]
        ) from exc
    rows, problems = rules.parse_results(text, city_tz())
    if not rows and not problems:
        problems = [rules.RowProblem(1, N_("the file has no results"))]
    if problems:
        raise _refuse(problems)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        participants, added, problems = _add_participants(session, rows, now)
        if problems:
            raise _refuse(problems)
        batch = ExamImport(imported_by=actor.acting_user_id, rows=len(rows), created_at=now)
        session.add(batch)
        session.flush()
        latest = _latest_versions(session, sorted({pid for pid, _ in participants.values()}))
        values: list[dict[str, Any]] = []
        corrections = 0
        for row in rows:
            participant_id = participants[row.registration_code][0]
            before = latest.get((participant_id, row.subject), 0)
            corrections += before > 0
            values.append(
                {
                    "participant_id": participant_id,
                    "subject": row.subject,
                    "version": before + 1,
                    "score": row.score,
                    "pass_mark": row.pass_mark,
                    "published_at": row.published_at,
                    "import_id": batch.id,
                    "created_at": now,
                }
            )
        try:
            session.execute(RESULTS.insert(), values)
        except IntegrityError as exc:  # a concurrent import added the same version first
            raise errors.ImportCollided() from exc
        moments = {(row.subject, row.published_at) for row in rows}
        _schedule_publications(session, moments)
        uow.commit()
        return ExamImportRead(
            import_id=batch.id,
            rows=len(rows),
            participants_added=added,
            corrections=corrections,
            publications=len(moments),
        )


# --- Subscriptions -----------------------------------------------------------------------


def subscribe_to_exam_results(
    actor: Principal | None,
    data: ExamLookup,
    *,
    ip: str | None = None,
    uow: UnitOfWork | None = None,
) -> ExamSubscriptionRead:
    """Be told (inbox, e-mail, SMS by one's settings) when a subject of this participant
    is published: the participant themself or a parent, who proves it by knowing the
    code and the document number, as for a look-up (and counted as one)."""
    actor = authorize(actor, Action.EXAM_RESULTS_SUBSCRIBE)
    uow = uow or UnitOfWork()
    with uow:
        code, participant_id, _ = _identified(uow, data, ip)
        session = uow.session
        session.execute(
            upsert_insert(session)(ExamSubscription)
            .values(user_id=actor.user_id, participant_id=participant_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id", "participant_id"])
        )
        subscription_id = session.scalar(
            select(ExamSubscription.id).where(
                ExamSubscription.user_id == actor.user_id,
                ExamSubscription.participant_id == participant_id,
            )
        )
        assert subscription_id is not None
        uow.commit()
        return ExamSubscriptionRead(id=subscription_id, registration_code=code)


def list_exam_subscriptions(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[ExamSubscriptionRead]:
    """The participants the logged-in user is told about."""
    actor = authorize(actor, Action.EXAM_RESULTS_SUBSCRIBE)
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(ExamSubscription.id, ExamParticipant.registration_code)
            .join(ExamParticipant, ExamParticipant.id == ExamSubscription.participant_id)
            .where(ExamSubscription.user_id == actor.user_id)
            .order_by(ExamSubscription.id)
        ).all()
        return [
            ExamSubscriptionRead(id=row.id, registration_code=row.registration_code) for row in rows
        ]
