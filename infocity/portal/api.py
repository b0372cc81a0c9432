"""JSON routes (thin: parse, call one service function, answer)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
