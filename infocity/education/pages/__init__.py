"""HTML pages of education: one router per sub-domain, assembled here."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.education.pages import exams

router = APIRouter()
router.include_router(exams.router)
