"""HTML pages of education, one module per sub-domain, assembled into one router."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.education.pages import directory, exams, first_grade, kindergarten

router = APIRouter(include_in_schema=False)
router.include_router(kindergarten.router)
router.include_router(first_grade.router)
router.include_router(exams.router)
router.include_router(directory.router)
