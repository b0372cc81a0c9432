"""HTML pages of cards, one module per sub-domain, assembled into one router."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.cards.pages import social

router = APIRouter(include_in_schema=False)
router.include_router(social.router)
