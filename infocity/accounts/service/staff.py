"""Staff accounts and their roles, managed by city administrators; a staff member's
workplace."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import rules
from infocity.accounts.errors import (
    AccountExists,
    ContactTaken,
    GrantNotFound,
    InvalidRole,
    LastCityAdmin,
    OrganisationKindMismatch,
    OrganisationNotFound,
    OrganisationRequired,
    OwnAccount,
    Required,
    RoleAlreadyGranted,
    RoleIsCityWide,
    StaffNotFound,
)
from infocity.accounts.models import ApiToken, StaffRole, User
from infocity.accounts.schemas import (
    GrantCreate,
    StaffCreate,
    StaffUpdate,
    UserRead,
    WorkplaceRead,
    WorkplaceRoleRead,
)
from infocity.accounts.service.base import _user_read
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import (
    ROLE_ORGANISATION_KIND,
    STAFF_ROLES,
    Action,
    Principal,
    Role,
    authorize,
)
from infocity.core.db import utcnow
from infocity.core.errors import InvalidFields, InvalidInput, NotFound
from infocity.core.i18n import current_locale
from infocity.core.models import WebSession
from infocity.core.security import hash_password
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork


def _staff_role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        role = Role.CITIZEN
    if role not in STAFF_ROLES:
        raise InvalidRole()
    return role


def _check_role_organisation(uow: UnitOfWork, role: Role, organisation_id: int | None) -> None:
    """A city-wide role takes no organisation; any other, one of the right kind."""
    expected_kind = ROLE_ORGANISATION_KIND[role]
    if expected_kind is None:
        if organisation_id is not None:
            raise RoleIsCityWide()
        return
    if organisation_id is None:
        raise OrganisationRequired()
    try:
        organisation = city.get_organisation(organisation_id, uow=uow)
    except NotFound as exc:
        raise OrganisationNotFound() from exc
    if organisation.kind != expected_kind:
        raise OrganisationKindMismatch()


def create_staff_account(
    data: StaffCreate, actor: Principal | None, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Create a staff account with one role (city administrators; ``SYSTEM``: the CLI)."""
    actor = authorize(actor, Action.STAFF_MANAGE, data.organisation_id)
    email = rules.normalize_email(data.email)
    role = _staff_role(data.role)
    display_name = " ".join(data.display_name.split())
    if not display_name:
        raise Required("display_name")
    rules.check_password(data.password, email=email)
    password_hash = hash_password(data.password)
    uow = uow or UnitOfWork()
    with uow:
        _check_role_organisation(uow, role, data.organisation_id)
        if uow.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise AccountExists()
        user = User(
            kind="staff",
            email=email,
            password_hash=password_hash,
            display_name=display_name,
            locale=current_locale(),
            verified_at=utcnow(),  # an administrator made it: nothing to confirm
        )
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise AccountExists() from exc
        uow.session.add(
            StaffRole(user_id=user.id, role=role.value, organisation_id=data.organisation_id)
        )
        uow.session.flush()
        audit.record(
            uow.session,
            actor,
            "staff.create",
            organisation_id=data.organisation_id,
            detail=f"user {user.id} role {role.value}",
        )
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def _refuse_last_city_admin(session: Session, user_id: int) -> None:
    """LastCityAdmin unless another active account holds the city administrator's role."""
    others = session.scalar(
        select(func.count())
        .select_from(StaffRole)
        .join(User, User.id == StaffRole.user_id)
        .where(
            StaffRole.role == Role.CITY_ADMIN.value,
            StaffRole.user_id != user_id,
            User.is_active.is_(True),
        )
    )
    if not others:
        raise LastCityAdmin()


def _staff_user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.session.get(User, user_id)
    if user is None or user.kind != "staff":
        raise StaffNotFound()
    return user


def _grant_query(user_id: int, role: Role, organisation_id: int | None) -> ColumnElement[bool]:
    org = (
        StaffRole.organisation_id.is_(None)
        if organisation_id is None
        else StaffRole.organisation_id == organisation_id
    )
    return (StaffRole.user_id == user_id) & (StaffRole.role == role.value) & org


def grant_role(
    actor: Principal | None, user_id: int, data: GrantCreate, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Give a staff member another role (in an organisation or city-wide)."""
    authorize(actor, Action.STAFF_MANAGE, data.organisation_id)
    role = _staff_role(data.role)
    uow = uow or UnitOfWork()
    with uow:
        user = _staff_user(uow, user_id)
        _check_role_organisation(uow, role, data.organisation_id)
        # NULLs never collide in a unique constraint, so city-wide duplicates are
        # caught here rather than by the database.
        if uow.session.scalar(
            select(StaffRole.id).where(_grant_query(user_id, role, data.organisation_id))
        ):
            raise RoleAlreadyGranted()
        uow.session.add(
            StaffRole(user_id=user_id, role=role.value, organisation_id=data.organisation_id)
        )
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise RoleAlreadyGranted() from exc
        audit.record(
            uow.session,
            actor,
            "staff.grant",
            organisation_id=data.organisation_id,
            detail=f"user {user_id} role {role.value}",
        )
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def revoke_role(
    actor: Principal | None, user_id: int, data: GrantCreate, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Take a role away from a staff member (the city keeps at least one administrator)."""
    authorize(actor, Action.STAFF_MANAGE, data.organisation_id)
    role = _staff_role(data.role)
    uow = uow or UnitOfWork()
    with uow:
        user = _staff_user(uow, user_id)
        if role is Role.CITY_ADMIN:
            _refuse_last_city_admin(uow.session, user_id)
        removed = dml(
            uow.session, delete(StaffRole).where(_grant_query(user_id, role, data.organisation_id))
        )
        if removed.rowcount == 0:
            raise GrantNotFound()
        audit.record(
            uow.session,
            actor,
            "staff.revoke",
            organisation_id=data.organisation_id,
            detail=f"user {user_id} role {role.value}",
        )
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def list_staff(actor: Principal | None, *, uow: UnitOfWork | None = None) -> list[UserRead]:
    """Every staff account with its roles (city administrators)."""
    authorize(actor, Action.STAFF_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        users = uow.session.scalars(
            select(User).where(User.kind == "staff").order_by(User.display_name, User.id)
        )
        return [_user_read(uow.session, user) for user in users]


def get_workplace(actor: Principal | None, *, uow: UnitOfWork | None = None) -> WorkplaceRead:
    """A staff member's roles and the organisations they hold them in."""
    actor = authorize(actor, Action.WORKPLACE_OPEN)
    uow = uow or UnitOfWork()
    with uow:
        roles = []
        for grant in actor.grants:
            if grant.role is Role.CITIZEN:
                continue
            name = None
            if grant.organisation_id is not None:
                name = city.get_organisation(grant.organisation_id, uow=uow).name
            roles.append(
                WorkplaceRoleRead(
                    role=grant.role.value,
                    organisation_id=grant.organisation_id,
                    organisation_name=name,
                )
            )
        return WorkplaceRead(user_id=actor.user_id, display_name=actor.display_name, roles=roles)


def get_staff_account(
    actor: Principal | None, user_id: int, *, uow: UnitOfWork | None = None
) -> UserRead:
    """One staff account with its roles (city administrators)."""
    authorize(actor, Action.STAFF_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        return _user_read(uow.session, _staff_user(uow, user_id))


def update_staff_account(
    actor: Principal | None, user_id: int, data: StaffUpdate, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Change a staff member's name, log-in e-mail or phone (fields left out stay; a phone
    set to null is removed). Audited with the fields changed."""
    actor = authorize(actor, Action.STAFF_MANAGE)
    changes: dict[str, str | None] = {}
    given = data.model_fields_set
    errors: list[InvalidInput] = []
    if "display_name" in given:
        name = " ".join((data.display_name or "").split())
        if name:
            changes["display_name"] = name
        else:
            errors.append(Required("display_name"))
    if "email" in given:
        try:
            # Staff log in with their e-mail: it cannot be removed.
            changes["email"] = rules.normalize_email(data.email or "")
        except InvalidInput as exc:
            errors.append(exc if data.email else Required("email"))
    if "phone" in given:
        try:
            changes["phone"] = rules.normalize_phone(data.phone) if data.phone else None
        except InvalidInput as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidFields(errors)
    uow = uow or UnitOfWork()
    with uow:
        user = _staff_user(uow, user_id)
        changed = sorted(name for name, value in changes.items() if getattr(user, name) != value)
        for field in ("email", "phone"):
            value = changes.get(field)
            column = User.email if field == "email" else User.phone
            if field in changed and value is not None:
                taken = select(User.id).where(column == value, User.id != user_id).limit(1)
                if uow.session.scalar(taken) is not None:
                    raise ContactTaken(field)
        for name in changed:
            setattr(user, name, changes[name])
        try:
            uow.session.flush()
        except IntegrityError as exc:  # taken by another account at the same moment
            raise AccountExists() from exc
        if changed:
            audit.record(
                uow.session, actor, "staff.update", detail=f"user {user_id}: {', '.join(changed)}"
            )
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def deactivate_staff_account(
    actor: Principal | None, user_id: int, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Stop a staff account at once: it cannot log in, its browser sessions end and its
    apps' tokens are revoked (reactivating it does not bring them back)."""
    actor = authorize(actor, Action.STAFF_MANAGE)
    if actor.acting_user_id == user_id:
        raise OwnAccount()
    uow = uow or UnitOfWork()
    with uow:
        user = _staff_user(uow, user_id)
        if uow.session.scalar(
            select(StaffRole.id).where(_grant_query(user_id, Role.CITY_ADMIN, None))
        ):
            _refuse_last_city_admin(uow.session, user_id)
        stopped = dml(
            uow.session,
            update(User)
            .where(User.id == user_id, User.is_active.is_(True))
            .values(is_active=False),
        )
        if stopped.rowcount == 1:  # not already stopped by another administrator
            uow.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
            uow.session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            audit.record(uow.session, actor, "staff.deactivate", detail=f"user {user_id}")
        uow.session.refresh(user)
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def reactivate_staff_account(
    actor: Principal | None, user_id: int, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Let a deactivated staff account log in again (with its roles as they were)."""
    actor = authorize(actor, Action.STAFF_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        user = _staff_user(uow, user_id)
        started = dml(
            uow.session,
            update(User)
            .where(User.id == user_id, User.is_active.is_(False))
            .values(is_active=True),
        )
        if started.rowcount == 1:
            audit.record(uow.session, actor, "staff.reactivate", detail=f"user {user_id}")
        uow.session.refresh(user)
        result = _user_read(uow.session, user)
        uow.commit()
        return result
