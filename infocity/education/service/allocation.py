"""The city's allocation of kindergarten places: a preview and the run for a date, the
parents told of their offers, and the lapse of offers not accepted in time.

A run covers the whole city in one transaction (150,000 children and 70,000 places at
full scale): the places are taken by guarded updates in bulk (one statement per batch
of groups that lose the same number of places, one per batch of applications), each
checked by its row count, so a place is still given only while it is free and a child
only while it waits; the offers are inserted in batches. The parents are told by the
worker afterwards (``notify_kindergarten_offers``), a batch at a time, each offer once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit, outbox
from infocity.core.ages import age_on
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.outbox import notify
from infocity.core.settings import get_settings
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.education import errors
from infocity.education.models.directory import KindergartenGroup
from infocity.education.models.kindergarten import (
    AllocationRun,
    KindergartenApplication,
    KindergartenChoice,
    KindergartenOffer,
)
from infocity.education.rules import kindergarten as rules
from infocity.education.rules.kindergarten import ApplicationStatus, Benefit, OfferStatus
from infocity.education.schemas.kindergarten import (
    AllocationRead,
    NearbyKindergartenRead,
    ProposedOffer,
    WaitingChildRead,
)
from infocity.education.service.directory import (
    _in_districts,
    _kindergarten_names,
    _require_city_wide,
)
from infocity.education.service.kindergarten import NO_NAME, _close_open_offer

PAGE_LINK = "/education/kindergarten"
ALLOCATED_EVENT = "education.kindergarten.allocated"
BATCH = 1000  # ids a statement names (below SQLite's limit of bound parameters)
NOTICE_BATCH = 500
MAX_NOTICE_BATCHES = 40  # per job run: it keeps inside its lease; the next goes on
T = TypeVar("T")
NO_PLACE: tuple[str, str | None, tuple[float, float] | None] = ("", None, None)


@dataclass(frozen=True)
class _Plan:
    applicants: dict[int, rules.Applicant]
    benefits: dict[int, Benefit]
    groups: dict[rules.Seat, int]  # seat → group id
    matching: dict[int, int]  # application → kindergarten


def _plan(session: Session, run_for: date) -> _Plan:
    """Who would get which place if the allocation ran for ``run_for`` now."""
    year = rules.school_year(run_for)
    free: dict[rules.Seat, int] = {}
    groups: dict[rules.Seat, int] = {}
    for group in session.scalars(
        select(KindergartenGroup).where(
            KindergartenGroup.year == year, KindergartenGroup.free_places > 0
        )
    ):
        seat = (group.kindergarten_id, group.age_group)
        free[seat] = group.free_places
        groups[seat] = group.id
    rows = session.execute(
        select(
            KindergartenApplication.id,
            KindergartenApplication.child_birth_date,
            KindergartenApplication.benefit,
            KindergartenApplication.applied_at,
            KindergartenChoice.kindergarten_id,
        )
        .join(KindergartenChoice, KindergartenChoice.application_id == KindergartenApplication.id)
        .where(
            KindergartenApplication.status == ApplicationStatus.QUEUED.value,
            KindergartenApplication.desired_start <= run_for,
        )
        .order_by(KindergartenApplication.id, KindergartenChoice.rank)
    )
    # A kindergarten the parent declined is not offered to the child again.
    declined: set[tuple[int, int]] = {
        (row[0], row[1])
        for row in session.execute(
            select(KindergartenOffer.application_id, KindergartenGroup.kindergarten_id)
            .join(KindergartenGroup, KindergartenGroup.id == KindergartenOffer.group_id)
            .join(
                KindergartenApplication,
                KindergartenApplication.id == KindergartenOffer.application_id,
            )
            .where(
                KindergartenOffer.status == OfferStatus.DECLINED.value,
                KindergartenApplication.status == ApplicationStatus.QUEUED.value,
            )
        )
    }
    choices: dict[int, list[int]] = {}
    facts: dict[int, tuple[date, Benefit, datetime]] = {}
    benefits = {b.value: b for b in Benefit}  # one look-up a row, not an enum call
    for app_id, birth, benefit, applied_at, kindergarten_id in rows:
        wanted = choices.get(app_id)
        if wanted is None:
            wanted = choices[app_id] = []
            facts[app_id] = (birth, benefits[benefit], applied_at)
        if (app_id, kindergarten_id) not in declined:
            wanted.append(kindergarten_id)
    applicants = {
        app_id: rules.Applicant(
            id=app_id,
            choices=tuple(choices[app_id]),
            group=rules.age_group(birth, year),
            priority=rules.queue_key(benefit, applied_at, app_id),
        )
        for app_id, (birth, benefit, applied_at) in facts.items()
    }
    matching = rules.deferred_acceptance(list(applicants.values()), free)
    return _Plan(applicants, {a: f[1] for a, f in facts.items()}, groups, matching)


def _read(uow: UnitOfWork, plan: _Plan, run_for: date, run_id: int | None) -> AllocationRead:
    names = _kindergarten_names(uow)
    # Built from what was just read, so not validated again (a city-wide run has
    # tens of thousands).
    offers = [
        ProposedOffer.model_construct(
            application_id=app_id,
            kindergarten_id=kindergarten_id,
            kindergarten_name=names.get(kindergarten_id, NO_NAME)[0],
            kindergarten_name_en=names.get(kindergarten_id, NO_NAME)[1],
            age_group=plan.applicants[app_id].group,
            benefit=plan.benefits[app_id],
        )
        for app_id, kindergarten_id in sorted(plan.matching.items(), key=lambda m: (m[1], m[0]))
    ]
    return AllocationRead(
        run_id=run_id, run_for=run_for, considered=len(plan.applicants), offers=offers
    )


def preview_allocation(
    actor: Principal | None, run_for: date, *, uow: UnitOfWork | None = None
) -> AllocationRead:
    """What a run for ``run_for`` would offer now; nothing is written (officials; a
    district's official sees the offers of its district's kindergartens)."""
    actor = authorize(actor, Action.KINDERGARTEN_ALLOCATE)
    uow = uow or UnitOfWork()
    with uow:
        result = _read(uow, _plan(uow.session, run_for), run_for, None)
        kindergartens = {o.kindergarten_id for o in result.offers}
        reachable = _in_districts(actor, Action.KINDERGARTEN_ALLOCATE, kindergartens, uow)
        if reachable is not None:
            # The run is the city's (parents choose across districts); the district
            # sees its own kindergartens' part of it.
            result.offers = [o for o in result.offers if o.kindergarten_id in reachable]
        return result


def run_allocation(
    actor: Principal | None,
    run_for: date,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AllocationRead:
    """Offer the free places for ``run_for`` (city officials). Each place is taken by a
    guarded update; if another run took a place or a child meanwhile, this run gives
    nothing and says so."""
    actor = authorize(actor, Action.KINDERGARTEN_ALLOCATE)
    _require_city_wide(actor, Action.KINDERGARTEN_ALLOCATE)
    now = now or utcnow()
    expires_on = rules.offer_expires(city_date(now), get_settings().kindergarten_offer_days)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        plan = _plan(session, run_for)
        run = AllocationRun(
            run_for=run_for,
            started_by=actor.acting_user_id,
            offers=len(plan.matching),
            created_at=now,
        )
        session.add(run)
        session.flush()
        given = [
            (app_id, plan.groups[(kindergarten_id, plan.applicants[app_id].group)])
            for app_id, kindergarten_id in plan.matching.items()
        ]
        _give_places(session, given)
        for batch in _batches(sorted(given)):
            session.execute(
                insert(KindergartenOffer),
                [
                    {
                        "application_id": app_id,
                        "run_id": run.id,
                        "group_id": group_id,
                        "status": OfferStatus.OPEN.value,
                        "expires_on": expires_on,
                        "offered_at": now,
                    }
                    for app_id, group_id in batch
                ],
            )
        # Partner systems hear of the run once; the parents are told by the worker.
        outbox.publish_event(
            session,
            ALLOCATED_EVENT,
            {"run_id": run.id, "run_for": run_for.isoformat(), "offers": len(given)},
        )
        audit.record(
            session,
            actor,
            "education.kindergarten.allocation",
            detail=f"{run_for.isoformat()}: {len(given)} offers",
        )
        result = _read(uow, plan, run_for, run.id)
        uow.commit()
        return result


def _batches(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _give_places(session: Session, given: Sequence[tuple[int, int]]) -> None:
    """Take the places (application, group) by guarded updates in bulk: each group loses
    its places only if it still has them all, each application moves only if it still
    waits; any row count short of the plan means another run was first, and nothing of
    this run is kept."""
    per_group = Counter(group_id for _, group_id in given)
    group_ids = sorted(per_group)
    # Lock the groups in one order, so that two runs at once wait rather than deadlock.
    for batch in _batches(group_ids):
        session.execute(
            select(KindergartenGroup.id)
            .where(KindergartenGroup.id.in_(batch))
            .order_by(KindergartenGroup.id)
            .with_for_update()
        ).all()
    by_count: dict[int, list[int]] = {}
    for group_id in group_ids:
        by_count.setdefault(per_group[group_id], []).append(group_id)
    taken = 0
    for count, ids in sorted(by_count.items()):
        for batch in _batches(ids):
            taken += dml(
                session,
                update(KindergartenGroup)
                .where(KindergartenGroup.id.in_(batch), KindergartenGroup.free_places >= count)
                .values(free_places=KindergartenGroup.free_places - count)
                .execution_options(synchronize_session=False),
            ).rowcount
    if taken != len(group_ids):
        raise errors.AllocationCollided()
    moved = 0
    for batch in _batches(sorted(app_id for app_id, _ in given)):
        moved += dml(
            session,
            update(KindergartenApplication)
            .where(
                KindergartenApplication.id.in_(batch),
                KindergartenApplication.status == ApplicationStatus.QUEUED.value,
            )
            .values(status=ApplicationStatus.OFFERED.value)
            .execution_options(synchronize_session=False),
        ).rowcount
    if moved != len(given):
        raise errors.AllocationCollided()


def _tell_parents(
    session: Session,
    app_id: int,
    kind: str,
    kindergarten: tuple[str, str | None],
    expires_on: date | None,
) -> None:
    application = session.get(KindergartenApplication, app_id)
    assert application is not None
    child = accounts.person_by_id(session, application.child_id)
    for user_id in accounts.users_to_notify(session, application.child_id):
        notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind=kind,
            template=f"education/kindergarten/messages/{kind}.txt",
            context={
                "child": child.first_name if child else "",
                "kindergarten": kindergarten[0],
                "kindergarten_en": kindergarten[1] or kindergarten[0],
                "expires_on": expires_on,
            },
            link=PAGE_LINK,
        )


def notify_kindergarten_offers(
    actor: Principal | None,
    *,
    batch: int = NOTICE_BATCH,
    max_batches: int = MAX_NOTICE_BATCHES,
    now: datetime | None = None,
) -> int:
    """Tell the parents of offers made and not yet told, ``batch`` offers at a time,
    each batch a transaction of its own; an offer is marked told by a guarded update
    first, so however often or concurrently this runs, nobody is told twice (the
    worker's job; ``SYSTEM``). The number of offers told."""
    authorize(actor, Action.KINDERGARTEN_ALLOCATE)
    told = 0
    for _ in range(max_batches):
        with UnitOfWork() as uow:
            session = uow.session
            rows = session.execute(
                select(
                    KindergartenOffer.id,
                    KindergartenOffer.application_id,
                    KindergartenOffer.expires_on,
                    KindergartenGroup.kindergarten_id,
                )
                .join(KindergartenGroup, KindergartenGroup.id == KindergartenOffer.group_id)
                .where(
                    KindergartenOffer.told_at.is_(None),
                    KindergartenOffer.status == OfferStatus.OPEN.value,
                )
                .order_by(KindergartenOffer.id)
                .limit(batch)
            ).all()
            # Marked told in one guarded update: an offer another run marked first is
            # not returned here, so it is not told twice.
            mine = set(
                dml(
                    session,
                    update(KindergartenOffer)
                    .where(
                        KindergartenOffer.id.in_([row[0] for row in rows]),
                        KindergartenOffer.told_at.is_(None),
                    )
                    .values(told_at=now or utcnow())
                    .returning(KindergartenOffer.id)
                    .execution_options(synchronize_session=False),
                ).scalars()
            )
            names = _kindergarten_names(uow) if mine else {}
            for offer_id, app_id, expires_on, kindergarten_id in rows:
                if offer_id in mine:
                    _tell_parents(
                        session, app_id, "kindergarten_offer", names[kindergarten_id], expires_on
                    )
                    told += 1
            uow.commit()
        if len(rows) < batch:
            break
    return told


def lapse_overdue_offers(*, now: datetime | None = None, uow: UnitOfWork | None = None) -> int:
    """End the offers whose last day has passed: the place returns for the next run and
    the child goes back to the queue with the original date (the job; ``SYSTEM``)."""
    now = now or utcnow()
    today = city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        overdue = list(
            session.scalars(
                select(KindergartenOffer.application_id)
                .where(
                    KindergartenOffer.status == OfferStatus.OPEN.value,
                    KindergartenOffer.expires_on < today,
                )
                .order_by(KindergartenOffer.application_id)
                .limit(1000)
            )
        )
        names = _kindergarten_names(uow)
        lapsed = 0
        for app_id in overdue:
            try:
                with session.begin_nested():
                    offer = _close_open_offer(session, app_id, OfferStatus.LAPSED, now)
                    back = dml(
                        session,
                        update(KindergartenApplication)
                        .where(
                            KindergartenApplication.id == app_id,
                            KindergartenApplication.status == ApplicationStatus.OFFERED.value,
                        )
                        .values(status=ApplicationStatus.QUEUED.value),
                    ).rowcount
                    if back != 1:
                        raise errors.ApplicationChanged()
            except errors.ApplicationChanged:
                continue  # answered meanwhile: nothing to lapse
            group = session.get(KindergartenGroup, offer.group_id)
            assert group is not None
            _tell_parents(
                session, app_id, "kindergarten_offer_lapsed", names[group.kindergarten_id], None
            )
            lapsed += 1
        uow.commit()
        return lapsed


def list_waiting_at_three(
    actor: Principal | None, on: date, *, uow: UnitOfWork | None = None
) -> list[WaitingChildRead]:
    """Children of 3 or more on ``on`` still in the queue, oldest first, each with the
    nearest kindergartens that have a free place in their age group that school year
    (officials; a district's official, the children whose first choice is in its
    district)."""
    actor = authorize(actor, Action.KINDERGARTEN_ALLOCATE)
    year = rules.school_year(on)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        rows = session.execute(
            select(
                KindergartenApplication.id,
                KindergartenApplication.child_birth_date,
                KindergartenChoice.kindergarten_id,
            )
            .join(
                KindergartenChoice, KindergartenChoice.application_id == KindergartenApplication.id
            )
            .where(
                KindergartenApplication.status == ApplicationStatus.QUEUED.value,
                # A bound by year in the query; the exact age below.
                KindergartenApplication.child_birth_date
                <= date(on.year - rules.WAITING_AGE, 12, 31),
                KindergartenChoice.rank == 1,
            )
            .order_by(KindergartenApplication.child_birth_date, KindergartenApplication.id)
        ).all()
        free: dict[int, dict[int, int]] = {}
        for row in session.scalars(
            select(KindergartenGroup).where(
                KindergartenGroup.year == year, KindergartenGroup.free_places > 0
            )
        ):
            free.setdefault(row.age_group, {})[row.kindergarten_id] = row.free_places
        places: dict[int, tuple[str, str | None, tuple[float, float] | None]] = {
            o.id: (
                o.name,
                o.name_en,
                (o.latitude, o.longitude)
                if o.latitude is not None and o.longitude is not None
                else None,
            )
            for o in city.list_organisations("kindergarten", uow=uow)
        }
        reachable = _in_districts(
            actor, Action.KINDERGARTEN_ALLOCATE, {row.kindergarten_id for row in rows}, uow
        )
        result = []
        for app_id, birth, first in rows:
            if age_on(birth, on) < rules.WAITING_AGE:
                continue
            if reachable is not None and first not in reachable:
                continue
            group = rules.age_group(birth, year)
            candidates = [(k, places.get(k, NO_PLACE)[2]) for k in free.get(group, {})]
            origin = places.get(first, NO_PLACE)[2]
            result.append(
                WaitingChildRead(
                    application_id=app_id,
                    age=age_on(birth, on),
                    age_group=group,
                    first_choice_id=first,
                    first_choice_name=places.get(first, NO_PLACE)[0],
                    first_choice_name_en=places.get(first, NO_PLACE)[1],
                    nearest=[
                        NearbyKindergartenRead(
                            kindergarten_id=k,
                            kindergarten_name=places.get(k, NO_PLACE)[0],
                            kindergarten_name_en=places.get(k, NO_PLACE)[1],
                            free_places=free[group][k],
                            distance_km=None if km is None else round(km, 1),
                        )
                        for k, km in rules.nearest(origin, candidates)
                    ],
                )
            )
        return result
