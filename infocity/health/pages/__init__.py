"""HTML pages of medical appointments (thin: parse, call one function, render).

Every page works without JavaScript. Reads come from ``reads``, changes go through
``service``; a refused form is shown again with the message, and a change that
succeeded redirects (POST-redirect-GET) so that reloading does not repeat it.

One module per who asks, as in ``reads``: ``citizens``, ``links`` (a reminder's signed
link, no login), ``waitlist``, ``home_visits``, ``kiosk``, ``registry``, ``doctors``,
``clinic_admin`` and ``city_admin``; ``common`` holds what they share. The application
mounts the one ``router`` assembled here.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from infocity.health.pages import (
    citizens,
    city_admin,
    clinic_admin,
    doctors,
    home_visits,
    kiosk,
    links,
    registry,
    waitlist,
)
from infocity.web.deps import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
for part in (
    citizens,
    links,
    waitlist,
    home_visits,
    kiosk,
    registry,
    doctors,
    clinic_admin,
    city_admin,
):
    router.include_router(part.router)

__all__ = ["router"]
