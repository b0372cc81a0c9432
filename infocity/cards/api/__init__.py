"""JSON routes of cards (``/api/v1/cards/...``), one module per sub-domain."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.cards.api import social

router = APIRouter()
router.include_router(social.router)
