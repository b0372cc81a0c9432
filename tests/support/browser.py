"""Screens the browser tests run on: a desktop and a phone (390×844, touch)."""

from __future__ import annotations

from typing import Any

import pytest

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Decorate a browser test with this to run it on both screens; it gets ``viewport``.
ON_EVERY_SCREEN = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def context_options(viewport: dict[str, int], locale: str = "ru-RU") -> dict[str, Any]:
    """Options of ``browser.new_context`` for a screen: a phone is a touch screen that
    honours the page's viewport meta tag."""
    phone = viewport == PHONE
    return {"locale": locale, "viewport": viewport, "is_mobile": phone, "has_touch": phone}
