"""HTML pages of cards, one module per who asks (parents: ``/cards``; school staff:
``/cards/school`` and its menus ``/cards/school/menu``; students and their college:
``/cards/social``), assembled into one router."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.cards.pages import meals, parents, school, social

router = APIRouter(include_in_schema=False)
router.include_router(parents.router)
router.include_router(meals.router)
router.include_router(school.router)
router.include_router(social.router)
