"""What every service's HTML pages share: reading a posted form, who is logged in, the
errors of a refused form, the redirect after a change and the notice it leads to.

Pages work without JavaScript: a refused form is shown again with the message, and a
change that succeeded redirects (POST-redirect-GET) so that reloading does not repeat it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.errors import AppError, InvalidFields, Unauthenticated
from infocity.core.i18n import N_, gettext
from infocity.core.schemas import MAX_ID
from infocity.web.deps import page_principal
from infocity.web.errors import validation_fields

CHECK_FIELDS = N_("Please correct the marked fields.")

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's text fields (files are left out)."""
    # The CSRF dependency has read the form already; Starlette keeps it on the request.
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def read_form_with_files(request: Request) -> dict[str, Any]:
    """The posted form's fields, uploaded files included."""
    form = await request.form()
    return dict(form.items())


Form = Annotated[dict[str, str], Depends(read_form)]
FormWithFiles = Annotated[dict[str, Any], Depends(read_form_with_files)]


def logged_in(request: Request) -> Principal:
    """The user logged in to this browser; otherwise the log-in page is where they go."""
    principal = page_principal(request)
    if principal is None:
        raise Unauthenticated("login_required", N_("Please log in to continue."))
    return principal


LoggedIn = Annotated[Principal, Depends(logged_in)]


class FormErrors:
    """What went wrong with a submitted form, ready for the template."""

    def __init__(self, fields: dict[str, str] | None = None, form: str | None = None) -> None:
        self.fields = fields or {}
        self.form = form

    @classmethod
    def of(cls, exc: AppError | ValidationError, form_fields: Iterable[str] = ()) -> FormErrors:
        names = set(form_fields)
        if isinstance(exc, ValidationError):
            fields = {
                item["field"]: item["message"]
                for item in validation_fields(RequestValidationError(exc.errors()))
            }
        elif isinstance(exc, InvalidFields):
            fields = {error.field: error.translated() for error in exc.errors if error.field}
        else:
            # One refusal: its reason goes at the top as well, so it is read even where
            # the field it names is not on the form.
            if exc.field and exc.field in names:
                return cls({exc.field: exc.translated()}, exc.translated())
            return cls({}, exc.translated())
        shown = {k: v for k, v in fields.items() if k in names}
        # A problem with no field on the form (a hidden one) is said at the top.
        unshown = [v for k, v in fields.items() if k not in names]
        top = ([gettext(CHECK_FIELDS)] if shown else []) + unshown
        return cls(shown, " ".join(top) or gettext(CHECK_FIELDS))


def field_messages(exc: ValidationError) -> dict[str, str]:
    """Each invalid field's message in the user's language."""
    return {
        item["field"]: item["message"]
        for item in validation_fields(RequestValidationError(exc.errors()))
    }


def reraise_refusal(exc: AppError | ValidationError) -> None:
    """Not logged in or not allowed: the error page (or the log-in redirect), not the form."""
    if isinstance(exc, AppError) and exc.status in (401, 403):
        raise exc


def refusal_status(exc: AppError | ValidationError) -> int:
    """The HTTP status of a refused form shown again."""
    return exc.status if isinstance(exc, AppError) else 422


def filled(form: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The fields the user filled in (an empty optional field means "not given")."""
    return {name: form[name].strip() for name in names if form.get(name, "").strip()}


def redirect(url: str) -> RedirectResponse:
    """After a change: see the result with a GET, so reloading does not repeat it."""
    return RedirectResponse(url, status_code=303)


def notice(notices: Mapping[str, str], key: str | None) -> str | None:
    """The translated notice for ``?done=key``; nothing for a key the page does not know."""
    return gettext(notices[key]) if key is not None and key in notices else None
