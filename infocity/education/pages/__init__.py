"""HTML pages of education, one module per sub-domain."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.education.pages import kindergarten

router = APIRouter(include_in_schema=False)
router.include_router(kindergarten.router)
