"""HTML forms as a browser posts them: with the CSRF token the page's form carries."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(page: httpx.Response) -> str:
    """The CSRF token in ``page``'s form; the test fails if the page has none."""
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {page.url.path}"
    return match.group(1)


def submit(
    client: httpx.Client, page: httpx.Response, path: str, data: dict[str, Any]
) -> httpx.Response:
    """Post a form of ``page`` as the browser would: with the page's CSRF token, every
    value as text, redirects not followed."""
    form = {**{k: str(v) for k, v in data.items()}, "csrf_token": form_token(page)}
    return client.post(path, data=form, follow_redirects=False)
