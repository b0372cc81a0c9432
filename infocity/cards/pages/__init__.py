"""HTML pages of school cards, one module per who asks (parents: ``/cards``)."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.cards.pages import parents

router = APIRouter()
router.include_router(parents.router)
