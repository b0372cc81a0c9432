"""Limits on what any request may carry: the size of its body, who may send an upload,
and characters no text may hold.

Bodies are limited before they are read (``Content-Length``) and while they are read
(chunked bodies have no length), so a 100 MB JSON document or a 300 MB upload costs
nothing but the refusal. Uploads get a larger limit, and only a logged-in caller may
send one: the login is checked before the first byte of the body is read.

Control characters are refused in query parameters, the path, form fields and the
strings of JSON bodies: PostgreSQL refuses NUL in text, and no name, number or search
needs the others. Tab and line breaks pass (text areas). The path, query and forms get
400 ``invalid_characters`` naming the parameter; JSON bodies get the 422 that
``InputModel`` gives (the field named in ``fields``), for every route's body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infocity.core.errors import AppError, Unauthenticated
from infocity.core.i18n import N_
from infocity.core.schemas import CONTROL_CHARACTERS
from infocity.web.deps import api_principal, page_principal

# Forms: text areas send tab, LF and CR; nothing else below the space.
_CONTROL_IN_FORM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# JSON: a control character inside a string can only come escaped (JSON refuses them
# raw), as \u0000-\u001f or \b \f; DEL may come raw. The escape counts only when its
# backslash is not itself escaped (an odd run of backslashes before it). Tab, line feed
# and carriage return pass, as in forms. The pattern begins with the backslash run (its
# parity checked after) so that the search skips ahead to backslashes and DEL: one that
# began with a look-behind was tried at every byte, 11 ms for a turnstile's 60 KB batch.
_CONTROL_IN_JSON = re.compile(rb"\x7f|(\\+)(?:[bf]|u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])|u007[fF])")


def _control_in_json(body: bytes) -> bool:
    """Whether a JSON text holds a control character other than tab, LF and CR."""
    if b"\\" not in body and b"\x7f" not in body:
        return False  # most bodies: two scans in C, no pattern tried
    return any(
        found.group(1) is None or len(found.group(1)) % 2 == 1
        for found in _CONTROL_IN_JSON.finditer(body)
    )


_MACHINE_PREFIXES = ("/api/", "/open311/", "/fhir/")


class InvalidCharacters(AppError):
    status = 400

    def __init__(self, field: str) -> None:
        super().__init__(
            "invalid_characters",
            N_("This value contains characters that are not allowed."),
            field=field,
        )


async def refuse_control_characters(request: Request) -> None:
    """Dependency of every route: control characters in the path, a query parameter or a
    form field are refused with a 400 naming the field, and in a JSON body's strings with
    a 422 naming it, before anything is looked up."""
    if CONTROL_CHARACTERS.search(request.scope["path"]):
        raise InvalidCharacters("path")
    for name, value in request.query_params.multi_items():
        if CONTROL_CHARACTERS.search(name) or CONTROL_CHARACTERS.search(value):
            raise InvalidCharacters(name if not CONTROL_CHARACTERS.search(name) else "query")
    content_type = request.headers.get("content-type", "")
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if "json" in content_type:
        body = await request.body()  # read once, kept for the route
        if _control_in_json(body):
            _refuse_json(body)
    elif content_type.startswith(_FORM_TYPES):
        form = await request.form()  # read once; routes get the same parsed form
        for name, item in form.multi_items():
            text = (item.filename or "") if isinstance(item, UploadFile) else item
            if _CONTROL_IN_FORM.search(name) or _CONTROL_IN_FORM.search(text):
                raise InvalidCharacters(name if not _CONTROL_IN_FORM.search(name) else "form")


def _control_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a JSON document the first string with a control character is."""
    if isinstance(value, str):
        return path if _CONTROL_IN_FORM.search(value) else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if isinstance(key, str) and _CONTROL_IN_FORM.search(key):
            return (*path, key)
        if (found := _control_path(item, (*path, key))) is not None:
            return found
    return None


def _refuse_json(body: bytes) -> None:
    """Refuse a JSON body with a control character in a string as ``InputModel`` does
    (422 naming the field), whatever model the route reads it into."""
    try:
        document = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own parsing refuses it
    path = _control_path(document)
    if path is None:
        return
    message = N_("This value contains characters that are not allowed.")
    raise RequestValidationError(
        [{"type": "value_error", "loc": ("body", *path), "msg": message, "input": None,
          "ctx": {"error": message}}]
    )  # fmt: skip


def _too_large() -> HTTPException:
    # An HTTPException, not an AppError: FastAPI passes HTTPExceptions raised while it
    # reads a body through to the handlers, and turns anything else into a bare 400.
    return HTTPException(413)


async def _require_login(scope: Scope) -> None:
    """Who sends an upload must be logged in (a bearer token on the API, the session on
    pages); checked before the body is read, so an anonymous upload is never stored."""
    request = Request(scope)
    if scope["path"].startswith(_MACHINE_PREFIXES):
        try:
            principal = await anyio.to_thread.run_sync(api_principal, request)
        except Unauthenticated:
            principal = None
        if principal is None:
            raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    elif await anyio.to_thread.run_sync(page_principal, request) is None:
        # Pages: the handler sends the browser to the login form.
        raise Unauthenticated("login_required", N_("Please log in to continue."))


class BodyLimitMiddleware:
    """Refuses a body above ``max_body`` bytes (``max_upload`` on the upload routes,
    which also need a logged-in caller) with 413, before or while reading it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        max_upload: int,
        upload_paths: tuple[re.Pattern[str], ...] = (),
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and any(
            p.match(scope["path"]) for p in self.upload_paths
        )
        await self.app(scope, self._limited(scope, receive, upload), send)

    def _limited(
        self, scope: Scope, receive: Receive, upload: bool
    ) -> Callable[[], Awaitable[Message]]:
        limit = self.max_upload if upload else self.max_body
        declared = Headers(scope=scope).get("content-length", "")
        state = {"received": 0, "first": True}

        async def limited_receive() -> Message:
            # Checked when the app first asks for the body: a route that never reads it
            # (a GET with a stray body) costs nothing, and the refusal goes through the
            # app's error handlers, in the user's language and the route's shape.
            if state["first"]:
                state["first"] = False
                if upload:
                    await _require_login(scope)
                if declared and (not declared.isdigit() or int(declared) > limit):
                    raise _too_large()
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    raise _too_large()
            return message

        return limited_receive
