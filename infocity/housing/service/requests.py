"""Service requests (Open311): filed by citizens, moved forward by operators, each step a
guarded ``UPDATE … WHERE status IN (<the statuses it may follow>)`` checked by its row
count and told to the citizen who filed the request in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit, outbox
from infocity.core.auth import PERMISSIONS, Action, Principal, allowed, authorize
from infocity.core.db import utcnow
from infocity.core.ratelimit import hit
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.housing import errors, rules
from infocity.housing.models import (
    Apartment,
    ApartmentLink,
    RequestEvent,
    RequestPhoto,
    ServiceRequest,
)
from infocity.housing.schemas import (
    RequestDetailRead,
    RequestEventRead,
    RequestFilter,
    RequestPhotoFile,
    RequestPhotoRead,
    RequestRating,
    RequestReopen,
    ServiceRequestCreate,
    ServiceRequestRead,
    ServiceRequestUpdate,
)
from infocity.housing.service.base import REQUESTS, _logged_in, _visible_apartment

OPEN, CLOSED = rules.RequestStatus.OPEN, rules.RequestStatus.CLOSED
REQUESTS_PER_HOUR = 20  # per citizen: enough for real problems, not for a flood
OPEN311_DEFAULT_DAYS = 90  # GET requests without dates covers this many days (the spec's)


# --- Service requests (Open311) ------------------------------------------------------------------


def housing_services() -> Sequence[rules.HousingService]:
    """The kinds of problems citizens can report (Open311 services)."""
    return rules.SERVICES


def housing_service(code: str) -> rules.HousingService:
    """One kind of problem by its code, or NotFound."""
    service = rules.SERVICES_BY_CODE.get(code)
    if service is None:
        raise errors.ServiceNotFound(code)
    return service


def request_status_label(status: str) -> str:
    """The English message id of a request status, for pages and the API."""
    return rules.STATUS_LABELS[rules.RequestStatus(status)]


def open311_status(status: str) -> str:
    """The Open311 status (open or closed) of a request status."""
    return rules.open311_status(status)


def operator_names(operator_ids: set[int], *, uow: UnitOfWork | None = None) -> dict[int, str]:
    """Names of housing operators by id (the "agency responsible" of requests)."""
    if not operator_ids:
        return {}
    return {
        o.id: o.name
        for o in city.list_organisations("housing_operator", uow=uow)
        if o.id in operator_ids
    }


def _step_request(
    session: Session,
    request_id: int,
    status: rules.RequestStatus,
    mover: rules.Mover,
    values: dict[str, Any],
) -> ServiceRequestRead:
    """Move a request to ``status`` only from the statuses ``mover`` may take it there
    from (``rules.TRANSITIONS``: the guard closes the race of two people acting on it at
    once); refuse if it has moved on."""
    row = dml(
        session,
        update(REQUESTS)
        .where(
            REQUESTS.c.id == request_id,
            REQUESTS.c.status.in_(rules.steps_to(status, mover)),
        )
        .values(status=status, **values)
        .returning(*REQUESTS.c),
    ).one_or_none()
    if row is None:
        raise errors.RequestStatusConflict()
    return _request_read(row)


def _request_read(row: Any, apartment_number: str | None = None) -> ServiceRequestRead:
    result = ServiceRequestRead.model_validate(row, from_attributes=True)
    return result.model_copy(update={"apartment_number": apartment_number})


def file_request(
    actor: Principal | None,
    data: ServiceRequestCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """File a housing service request; it goes to the operator of the apartment, or of
    the nearest housing operator when only a point is given."""
    actor = authorize(actor, Action.HOUSING_OWN)
    if data.service_code not in rules.SERVICES_BY_CODE:
        raise errors.UnknownService(data.service_code)
    now = now or utcnow()
    hit(f"housing.request:{actor.user_id}", limit=REQUESTS_PER_HOUR, window_seconds=3600)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        apartment: Apartment | None = None
        address: str | None
        if data.apartment_id is not None:
            apartment = _visible_apartment(session, actor, data.apartment_id)
        elif data.latitude is None or data.longitude is None:
            linked = list(
                session.scalars(
                    select(Apartment)
                    .join(ApartmentLink, ApartmentLink.apartment_id == Apartment.id)
                    .where(ApartmentLink.user_id == actor.user_id)
                    .limit(2)
                )
            )
            if len(linked) != 1:
                raise errors.LocationRequired()
            apartment = linked[0]
        if apartment is not None:
            operator_id = apartment.operator_id
            # The building (the number is not published), and where in it, in the
            # citizen's own words when given.
            address = rules.request_address(apartment.address, data.address)
        else:
            assert data.latitude is not None
            assert data.longitude is not None
            operators = [
                (o.id, o.latitude, o.longitude)
                for o in city.list_organisations("housing_operator", uow=uow)
                if o.latitude is not None and o.longitude is not None
            ]
            found = rules.nearest(data.latitude, data.longitude, operators)
            if found is None:
                raise errors.NoOperator()
            operator_id, address = found, data.address
        request = ServiceRequest(
            service_code=data.service_code,
            operator_id=operator_id,
            apartment_id=apartment.id if apartment else None,
            user_id=actor.user_id,
            status=OPEN,
            description=data.description.strip(),
            address=address,
            latitude=data.latitude,
            longitude=data.longitude,
            created_at=now,
            updated_at=now,
        )
        session.add(request)
        session.flush()
        session.add(
            RequestEvent(
                request_id=request.id,
                kind="filed",
                status=OPEN,
                by_user_id=actor.user_id,
                at=now,
            )
        )
        result = _request_read(request)
        _notify_request(session, result)
        outbox.publish_event(
            session,
            "housing_request.created",
            {"id": result.id, "service_code": result.service_code, "status": result.status},
            organisation_id=operator_id,
        )
        record_service_use(
            session, "housing_problem_report", actor.user_id, person_id=actor.person_id
        )
        uow.commit()
        return result


def _notify_request(session: Session, request: ServiceRequestRead) -> None:
    outbox.notify(
        session,
        accounts.recipient_for_user(session, request.user_id),
        kind="housing_request_status",
        template="housing/messages/request_status.txt",
        context={
            "number": request.id,
            "service_name": rules.SERVICES_BY_CODE[request.service_code].name,
            "status_label": rules.STATUS_LABELS[request.status],
            "note": request.status_notes,
        },
        link=f"/housing/requests/{request.id}",
    )


def get_request(request_id: int, *, uow: UnitOfWork | None = None) -> ServiceRequestRead:
    """One service request (public in Open311: no filer's identity is in it)."""
    uow = uow or UnitOfWork()
    with uow:
        request = uow.session.get(ServiceRequest, request_id)
        if request is None:
            raise errors.RequestNotFound()
        return _request_read(request)


def list_requests(
    filters: RequestFilter, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[ServiceRequestRead]:
    """Service requests by the Open311 filters, newest first; without ids or dates the
    last 90 days."""
    now = now or utcnow()
    query = select(ServiceRequest)
    if filters.ids:
        # The specification: service_request_id overrides every other parameter.
        query = query.where(ServiceRequest.id.in_(filters.ids))
        filters = RequestFilter(ids=filters.ids, limit=filters.limit)
    else:
        start, end = filters.start, filters.end
        window = timedelta(days=OPEN311_DEFAULT_DAYS)
        if start is None:
            # end_date alone: the 90 days before it (the specification's widest range).
            start = (end or now) - window
        if end is not None:
            if end < start:
                raise errors.DateRangeReversed()
            if end - start > window:
                raise errors.DateRangeTooLong(days=OPEN311_DEFAULT_DAYS)
            query = query.where(ServiceRequest.created_at <= end)
        query = query.where(ServiceRequest.created_at >= start)
    if filters.service_codes:
        query = query.where(ServiceRequest.service_code.in_(filters.service_codes))
    if filters.statuses:
        wanted = set(filters.statuses)
        if wanted == {"closed"}:
            query = query.where(ServiceRequest.status == CLOSED)
        elif wanted == {"open"}:
            query = query.where(ServiceRequest.status != CLOSED)
    query = query.order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).limit(
        filters.limit
    )
    uow = uow or UnitOfWork()
    with uow:
        return [_request_read(row) for row in uow.session.scalars(query)]


def list_my_requests(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[ServiceRequestRead]:
    """The citizen's own service requests, newest first."""
    actor = authorize(actor, Action.HOUSING_OWN)
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(ServiceRequest, Apartment.number)
            .outerjoin(Apartment, Apartment.id == ServiceRequest.apartment_id)
            .where(ServiceRequest.user_id == actor.user_id)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        )
        return [_request_read(row, number) for row, number in rows]


def list_request_queue(
    actor: Principal | None, *, show: str = "active", uow: UnitOfWork | None = None
) -> list[ServiceRequestRead]:
    """The requests of the operators the staff member processes for (``show``: active,
    closed or all), oldest first."""
    actor = authorize(actor, Action.HOUSING_REQUESTS_PROCESS)
    roles = PERMISSIONS[Action.HOUSING_REQUESTS_PROCESS]
    scopes = {g.organisation_id for g in actor.grants if g.role in roles}
    query = select(ServiceRequest, Apartment.number).outerjoin(
        Apartment, Apartment.id == ServiceRequest.apartment_id
    )
    if None not in scopes:
        query = query.where(ServiceRequest.operator_id.in_([s for s in scopes if s is not None]))
    if show == "active":
        query = query.where(ServiceRequest.status != CLOSED)
    elif show == "closed":
        query = query.where(ServiceRequest.status == CLOSED)
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(query.order_by(ServiceRequest.created_at, ServiceRequest.id))
        return [_request_read(row, number) for row, number in rows]


def update_request_status(
    actor: Principal | None,
    request_id: int,
    data: ServiceRequestUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """Move a service request forward (acknowledged, in progress, closed with a note);
    the citizen who filed it is told."""
    actor = authorize(actor, Action.HOUSING_REQUESTS_PROCESS)
    now = now or utcnow()
    note = (data.note or "").strip() or None
    if data.status == CLOSED and note is None:
        raise errors.NoteRequired()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = session.get(ServiceRequest, request_id)
        if request is None:
            raise errors.RequestNotFound()
        authorize(actor, Action.HOUSING_REQUESTS_PROCESS, request.operator_id)
        values: dict[str, Any] = {"updated_at": now}
        if note is not None:
            values["status_notes"] = note
        if data.status == CLOSED:
            values["closed_at"] = now  # the reopening period runs from here
        # Guarded: a step is taken only from the statuses it may follow, so two operators
        # acting on the same request at once cannot both move it.
        result = _step_request(session, request_id, data.status, rules.Mover.OPERATOR, values)
        session.add(
            RequestEvent(
                request_id=result.id,
                kind="status",
                status=result.status,
                note=note,
                by_user_id=actor.acting_user_id,
                at=now,
            )
        )
        audit.record(
            session,
            actor,
            "housing.request.update",
            organisation_id=result.operator_id,
            detail=f"request {result.id}: {result.status}",
        )
        _notify_request(session, result)
        outbox.publish_event(
            session,
            "housing_request.status_changed",
            {"id": result.id, "service_code": result.service_code, "status": result.status},
            organisation_id=result.operator_id,
        )
        uow.commit()
        return result


def _own_or_processed(
    session: Session, actor: Principal | None, request_id: int
) -> tuple[ServiceRequest, bool]:
    """The request and whether ``actor`` filed it; staff who process its operator's
    requests see it too; anyone else gets NotFound (the same as for no request)."""
    actor = _logged_in(actor)
    request = session.get(ServiceRequest, request_id)
    if request is None:
        raise errors.RequestNotFound()
    if actor.kind == "citizen":
        if request.user_id != actor.user_id:
            raise errors.RequestNotFound()
        return request, True
    if not allowed(actor, Action.HOUSING_REQUESTS_PROCESS, request.operator_id):
        raise errors.RequestNotFound()
    return request, False


def _filed_by(session: Session, actor: Principal | None, request_id: int) -> ServiceRequest:
    """The request for a step only its filer takes (reopen, photo, rating)."""
    actor = authorize(actor, Action.HOUSING_OWN)
    request, is_filer = _own_or_processed(session, actor, request_id)
    if not is_filer:
        raise errors.FilerOnly()
    return request


def get_request_detail(
    actor: Principal | None,
    request_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RequestDetailRead:
    """A request with its history and photos, for the citizen who filed it or the staff
    who process it, and what the citizen may do with it now."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request, is_filer = _own_or_processed(session, actor, request_id)
        number = (
            session.scalar(select(Apartment.number).where(Apartment.id == request.apartment_id))
            if request.apartment_id
            else None
        )
        history = [
            RequestEventRead.model_validate(event).model_copy(
                update={"by_citizen": event.by_user_id == request.user_id}
            )
            for event in session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == request.id)
                .order_by(RequestEvent.at, RequestEvent.id)
            )
        ]
        if not history or history[0].kind != "filed":
            # Filed before the history was kept: its filing is known all the same.
            history.insert(
                0,
                RequestEventRead(
                    kind="filed", status=OPEN, note=None, at=request.created_at, by_citizen=True
                ),
            )
        photos = [
            RequestPhotoRead.model_validate(photo)
            for photo in session.scalars(
                select(RequestPhoto)
                .where(RequestPhoto.request_id == request.id)
                .order_by(RequestPhoto.id)
            )
        ]
        return RequestDetailRead(
            request=_request_read(request, number),
            history=history,
            photos=photos,
            rating=request.rating,
            is_filer=is_filer,
            can_reopen=is_filer and rules.can_reopen(request.status, request.closed_at, now),
            can_rate=is_filer and rules.can_rate(request.status, request.rating),
            can_add_photo=is_filer and request.status != CLOSED and len(photos) < rules.MAX_PHOTOS,
        )


def add_request_photo(
    actor: Principal | None,
    request_id: int,
    filename: str,
    data: bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RequestPhotoRead:
    """Add a photo (JPEG or PNG, checked by its bytes, at most 5 MB, 5 a request) to the
    citizen's own request while it is not closed."""
    actor = authorize(actor, Action.HOUSING_OWN)
    name, content_type = rules.check_photo(filename, data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = _filed_by(session, actor, request_id)
        if request.status == CLOSED:
            raise errors.RequestClosed()
        count = session.scalar(
            select(func.count())
            .select_from(RequestPhoto)
            .where(RequestPhoto.request_id == request.id)
        )
        if int(count or 0) >= rules.MAX_PHOTOS:
            raise errors.TooManyPhotos(limit=rules.MAX_PHOTOS)
        photo = RequestPhoto(
            request_id=request.id,
            filename=name,
            content_type=content_type,
            size=len(data),
            data=data,
            uploaded_by_user_id=request.user_id,
            created_at=now,
        )
        session.add(photo)
        session.add(
            RequestEvent(
                request_id=request.id,
                kind="photo",
                status=request.status,
                note=name,
                by_user_id=request.user_id,
                at=now,
            )
        )
        session.flush()
        result = RequestPhotoRead.model_validate(photo)
        uow.commit()
        return result


def get_request_photo(
    actor: Principal | None, request_id: int, photo_id: int, *, uow: UnitOfWork | None = None
) -> RequestPhotoFile:
    """A photo's bytes, for the filer or the staff who process the request."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request, _ = _own_or_processed(session, actor, request_id)
        photo = session.get(RequestPhoto, photo_id)
        if photo is None or photo.request_id != request.id:
            raise errors.PhotoNotFound()
        return RequestPhotoFile(
            filename=photo.filename, content_type=photo.content_type, data=photo.data
        )


def reopen_request(
    actor: Principal | None,
    request_id: int,
    data: RequestReopen,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """Reopen the citizen's own request closed without a fix, within 30 days of its
    closing, saying what is still wrong; it goes back to the operator's queue."""
    actor = authorize(actor, Action.HOUSING_OWN)
    now = now or utcnow()
    reason = data.reason.strip()
    if not reason:
        raise errors.ReasonRequired()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = _filed_by(session, actor, request_id)
        if not rules.can_reopen(request.status, request.closed_at, now):
            raise errors.RequestNotReopenable(days=rules.REOPEN_DAYS)
        # Guarded like the operator's steps: a double submit reopens once.
        result = _step_request(
            session,
            request.id,
            OPEN,
            rules.Mover.CITIZEN,
            {"updated_at": now, "closed_at": None},
        )
        session.add(
            RequestEvent(
                request_id=result.id,
                kind="reopened",
                status=OPEN,
                note=reason,
                by_user_id=result.user_id,
                at=now,
            )
        )
        outbox.publish_event(
            session,
            "housing_request.status_changed",
            {"id": result.id, "service_code": result.service_code, "status": result.status},
            organisation_id=result.operator_id,
        )
        uow.commit()
        return result


def rate_request(
    actor: Principal | None,
    request_id: int,
    data: RequestRating,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """Rate the outcome of the citizen's own closed request, 1 to 5, once."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = _filed_by(session, actor, request_id)
        row = dml(
            session,
            update(REQUESTS)
            .where(
                REQUESTS.c.id == request.id,
                REQUESTS.c.status == CLOSED,
                REQUESTS.c.rating.is_(None),
            )
            .values(rating=data.rating, rated_at=now)
            .returning(*REQUESTS.c),
        ).one_or_none()
        if row is None:
            raise errors.RequestNotRatable()
        result = _request_read(row)
        session.add(
            RequestEvent(
                request_id=result.id,
                kind="rated",
                status=result.status,
                note=str(data.rating),
                by_user_id=result.user_id,
                at=now,
            )
        )
        uow.commit()
        return result
