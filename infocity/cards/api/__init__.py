"""JSON routes of cards (``/api/v1/cards/...``), one module per sub-domain."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.cards.api import cards, devices, ledger, meals, social

router = APIRouter()
router.include_router(cards.router)
router.include_router(ledger.router)
router.include_router(devices.router)
router.include_router(meals.router)
router.include_router(social.router)
