"""JSON routes (thin: parse, call one service function, answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from infocity.accounts import service
from infocity.accounts.schemas import (
    ApiTokenCreate,
    AuditEntryRead,
    AuditFilter,
    ChildCreate,
    ChildUpdate,
    CitizenCreate,
    CitizenRecordRead,
    ContactVerificationConfirm,
    DeviceKeyCreate,
    DeviceKeyIssued,
    GrantCreate,
    MessageRead,
    PasswordResetConfirm,
    PasswordResetRequest,
    PersonRead,
    ProfileRead,
    ProfileUpdate,
    StaffCreate,
    StaffUpdate,
    TokenRead,
    UserRead,
)
from infocity.core.i18n import N_, gettext
from infocity.core.schemas import MAX_ID
from infocity.web.deps import CurrentUser, LoggedIn, client_ip
from infocity.web.errors import error_responses

router = APIRouter(tags=["accounts"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

RESET_SENT = N_(
    "If an account with this e-mail or phone number exists, we have sent it a link "
    "to set a new password."
)


@router.post(
    "/auth/register",
    status_code=201,
    response_model=UserRead,
    responses=error_responses(409, 422, 429),
    summary="Register a citizen account",
)
def register(data: CitizenCreate, request: Request) -> UserRead:
    return service.register_citizen(data, ip=client_ip(request))


@router.post(
    "/auth/token",
    status_code=201,
    response_model=TokenRead,
    responses=error_responses(401, 422, 429),
    summary="Log an app in: a bearer token, shown once",
)
def issue_token(data: ApiTokenCreate, request: Request) -> TokenRead:
    return service.issue_api_token(data.identifier, data.password, data.name, ip=client_ip(request))


@router.delete(
    "/auth/token",
    status_code=204,
    responses=error_responses(401),
    summary="Log the app out: revoke the bearer token of this request",
)
def revoke_token(request: Request, actor: LoggedIn) -> Response:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    service.revoke_api_token(token)
    return Response(status_code=204)


@router.post(
    "/auth/verify",
    status_code=204,
    responses=error_responses(422),
    summary="Confirm the new account's e-mail or phone with the link's token (once)",
)
def verify_contact(data: ContactVerificationConfirm) -> Response:
    service.verify_contact(data.token)
    return Response(status_code=204)


@router.post(
    "/auth/verify/resend",
    status_code=204,
    responses=error_responses(401, 429),
    summary="Send the confirmation link again (an account not confirmed yet)",
)
def resend_verification(actor: LoggedIn) -> Response:
    service.resend_verification(actor)
    return Response(status_code=204)


@router.post(
    "/auth/password-reset",
    status_code=202,
    response_model=MessageRead,
    responses=error_responses(422, 429),
    summary="Send a password reset link (same answer whether or not the account exists)",
)
def request_password_reset(data: PasswordResetRequest, request: Request) -> MessageRead:
    service.request_password_reset(data.identifier, ip=client_ip(request))
    return MessageRead(message=gettext(RESET_SENT))


@router.post(
    "/auth/password-reset/confirm",
    status_code=204,
    responses=error_responses(422),
    summary="Set a new password with the link's token (once)",
)
def confirm_password_reset(data: PasswordResetConfirm) -> Response:
    service.reset_password(data.token, data.new_password)
    return Response(status_code=204)


@router.get(
    "/me",
    response_model=ProfileRead,
    responses=error_responses(401, 403),
    summary="My profile (documents masked) and children",
)
def get_profile(actor: CurrentUser) -> ProfileRead:
    return service.get_profile(actor)


@router.patch(
    "/me",
    response_model=ProfileRead,
    responses=error_responses(401, 403, 409, 422),
    summary="Change my names, date of birth or documents (null removes a document)",
)
def update_profile(data: ProfileUpdate, actor: CurrentUser) -> ProfileRead:
    return service.update_profile(actor, data)


@router.get(
    "/me/children",
    response_model=list[PersonRead],
    responses=error_responses(401, 403),
    summary="My children",
)
def list_children(actor: CurrentUser) -> list[PersonRead]:
    return service.list_family(actor)


@router.post(
    "/me/children",
    status_code=201,
    response_model=PersonRead,
    responses=error_responses(401, 403, 409, 422),
    summary="Add a child to my family",
)
def add_child(data: ChildCreate, actor: CurrentUser) -> PersonRead:
    return service.add_child(actor, data)


@router.patch(
    "/me/children/{child_id}",
    response_model=PersonRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change my child's names, date of birth, sex or documents (null removes one)",
)
def update_child(child_id: IdPath, data: ChildUpdate, actor: CurrentUser) -> PersonRead:
    return service.update_child(actor, child_id, data)


@router.delete(
    "/me/children/{child_id}",
    status_code=204,
    responses=error_responses(401, 403, 404),
    summary="Remove a child from my family (the child stays in the city register)",
)
def remove_child(child_id: IdPath, actor: CurrentUser) -> Response:
    service.remove_child(actor, child_id)
    return Response(status_code=204)


@router.get(
    "/staff/citizens",
    response_model=list[CitizenRecordRead],
    responses=error_responses(401, 403, 422, 429),
    summary="Look a citizen up by SNILS, OMS policy or phone (audited)",
)
def lookup_citizen(
    actor: CurrentUser, query: Annotated[str, Query(min_length=1, max_length=40)]
) -> list[CitizenRecordRead]:
    return service.lookup_citizen(actor, query)


@router.get(
    "/admin/audit",
    response_model=list[AuditEntryRead],
    responses=error_responses(401, 403, 422),
    summary="The audit log, newest first",
)
def list_audit(
    actor: CurrentUser, filters: Annotated[AuditFilter, Query()]
) -> list[AuditEntryRead]:
    return service.list_audit(actor, filters)


@router.post(
    "/admin/staff",
    status_code=201,
    response_model=UserRead,
    responses=error_responses(401, 403, 409, 422),
    summary="Create a staff account",
)
def create_staff(data: StaffCreate, actor: LoggedIn) -> UserRead:
    return service.create_staff_account(data, actor)


@router.get(
    "/admin/staff",
    response_model=list[UserRead],
    responses=error_responses(401, 403),
    summary="Every staff account with its roles",
)
def list_staff(actor: CurrentUser) -> list[UserRead]:
    return service.list_staff(actor)


@router.patch(
    "/admin/staff/{user_id}",
    response_model=UserRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change a staff member's name, e-mail or phone (audited)",
)
def update_staff(user_id: IdPath, data: StaffUpdate, actor: CurrentUser) -> UserRead:
    return service.update_staff_account(actor, user_id, data)


@router.post(
    "/admin/staff/{user_id}/deactivate",
    response_model=UserRead,
    responses=error_responses(401, 403, 404, 409),
    summary="Deactivate a staff account: no log-in; its sessions and tokens stop at once",
)
def deactivate_staff(user_id: IdPath, actor: CurrentUser) -> UserRead:
    return service.deactivate_staff_account(actor, user_id)


@router.post(
    "/admin/staff/{user_id}/reactivate",
    response_model=UserRead,
    responses=error_responses(401, 403, 404),
    summary="Let a deactivated staff account log in again",
)
def reactivate_staff(user_id: IdPath, actor: CurrentUser) -> UserRead:
    return service.reactivate_staff_account(actor, user_id)


@router.post(
    "/admin/staff/{user_id}/roles",
    response_model=UserRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Grant a staff member a role (audited)",
)
def grant_role(user_id: IdPath, data: GrantCreate, actor: CurrentUser) -> UserRead:
    return service.grant_role(actor, user_id, data)


@router.post(
    "/admin/staff/{user_id}/roles/revoke",
    response_model=UserRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Take a role away from a staff member (audited)",
)
def revoke_role(user_id: IdPath, data: GrantCreate, actor: CurrentUser) -> UserRead:
    return service.revoke_role(actor, user_id, data)


@router.post(
    "/admin/devices",
    status_code=201,
    response_model=DeviceKeyIssued,
    responses=error_responses(401, 403, 422),
    summary="Issue a device key (shown once)",
)
def register_device(data: DeviceKeyCreate, actor: CurrentUser) -> DeviceKeyIssued:
    device, key = service.register_device(actor, data)
    return DeviceKeyIssued(**device.model_dump(), key=key)
