"""HTML pages of school cards: the parent's pages (``/cards``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from infocity.web.deps import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)])
