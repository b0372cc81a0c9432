"""HTML pages (thin: parse the form, call one service function, render)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from infocity.web.deps import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
