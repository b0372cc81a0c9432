"""JSON routes of education (``/api/v1/education/...``), one module per sub-domain."""

from __future__ import annotations

from fastapi import APIRouter

from infocity.education.api import directory, exams, first_grade, kindergarten

router = APIRouter()
router.include_router(directory.router)
router.include_router(kindergarten.router)
router.include_router(first_grade.router)
router.include_router(exams.router)
