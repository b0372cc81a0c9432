"""The documents a citizen keeps in the cabinet, for themself and the children of their
family, which applications of the city's services point at (a benefit's certificate, a
priority right). Only the citizen who uploaded a document sees it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.portal import errors, rules
from infocity.portal.models import CabinetDocument
from infocity.portal.schemas import AttachmentFile, CabinetDocumentCreate, CabinetDocumentRead


def _read(document: CabinetDocument, names: dict[int, str]) -> CabinetDocumentRead:
    return CabinetDocumentRead(
        id=document.id,
        person_id=document.person_id,
        person_name=names.get(document.person_id, ""),
        title=document.title,
        filename=document.filename,
        content_type=document.content_type,
        size=document.size,
        created_at=document.created_at,
    )


def add_cabinet_document(
    actor: Principal | None,
    data: CabinetDocumentCreate,
    filename: str,
    content: bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CabinetDocumentRead:
    """Keep a document (PDF, JPEG or PNG, checked by its bytes) of the citizen or of a
    child of their family in the cabinet."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    title = " ".join(data.title.split())
    name, content_type = rules.check_attachment(filename, content)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if not accounts.acts_for(actor, data.person_id, uow=uow):
            raise errors.NotInYourFamily()
        kept = session.scalar(
            select(func.count())
            .select_from(CabinetDocument)
            .where(CabinetDocument.owner_user_id == actor.user_id)
        )
        if int(kept or 0) >= rules.MAX_CABINET_DOCUMENTS:
            raise errors.TooManyDocuments(rules.MAX_CABINET_DOCUMENTS)
        document = CabinetDocument(
            owner_user_id=actor.user_id,
            person_id=data.person_id,
            title=title,
            filename=name,
            content_type=content_type,
            size=len(content),
            data=content,
            created_at=now,
        )
        session.add(document)
        session.flush()
        result = _read(document, accounts.person_names(session, [data.person_id]))
        uow.commit()
        return result


def list_my_documents(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[CabinetDocumentRead]:
    """The citizen's documents in the cabinet, newest first."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        documents = list(
            session.scalars(
                select(CabinetDocument)
                .where(CabinetDocument.owner_user_id == actor.user_id)
                .order_by(CabinetDocument.created_at.desc(), CabinetDocument.id.desc())
            )
        )
        names = accounts.person_names(session, [d.person_id for d in documents])
        return [_read(d, names) for d in documents]


def _own(uow: UnitOfWork, actor: Principal, document_id: int) -> CabinetDocument:
    document = uow.session.get(CabinetDocument, document_id)
    # Another citizen's document reads as missing: its existence is not told.
    if document is None or document.owner_user_id != actor.user_id:
        raise errors.CabinetDocumentNotFound()
    return document


def get_my_document_file(
    actor: Principal | None, document_id: int, *, uow: UnitOfWork | None = None
) -> AttachmentFile:
    """A document's file, for the citizen who keeps it."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        document = _own(uow, actor, document_id)
        return AttachmentFile(
            filename=document.filename, content_type=document.content_type, data=document.data
        )


def my_document_for(
    actor: Principal | None, document_id: int, *, uow: UnitOfWork | None = None
) -> CabinetDocumentRead:
    """A document of the citizen's cabinet that an application points at (inside the
    caller's unit of work), or CabinetDocumentNotFound when it is not theirs."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        document = _own(uow, actor, document_id)
        return _read(document, accounts.person_names(uow.session, [document.person_id]))
