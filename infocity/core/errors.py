"""Errors a user can cause, each with a machine-readable code and a translatable message.

Service functions raise these; the web layer turns them into an HTTP status and a body
``{"error": {"code", "message", "field"}}`` in the user's language. Anything else that
escapes is a bug and answers 500.
"""

from __future__ import annotations

from typing import Any

from infocity.core.i18n import gettext


class AppError(Exception):
    """A refusal the user can understand and act on; nothing has been written."""

    status: int = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        **params: Any,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message  # English message id, translated when shown
        self.field = field
        self.params = params
        if status is not None:
            self.status = status

    def translated(self) -> str:
        return gettext(self.message, **self.params)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.translated()}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(AppError):
    status = 422


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Unauthenticated(AppError):
    status = 401


class Forbidden(AppError):
    status = 403


class RateLimited(AppError):
    status = 429
