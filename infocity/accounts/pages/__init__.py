"""HTML pages of accounts. Forms work without JavaScript. A refused form is shown again
with the entered values (passwords excepted), an error at each field and one at the top; a
saved form redirects (POST-redirect-GET) so that reloading does not submit it again.
"""

from __future__ import annotations

from fastapi import APIRouter

from infocity.accounts.pages import account, admin

router = APIRouter(include_in_schema=False)
router.include_router(account.router)
router.include_router(admin.router)

__all__ = ["router"]
