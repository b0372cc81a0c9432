"""The bill's payment QR code drawn from its GOST R 56042 text (segno, pure Python):
inline SVG for the page, the module matrix for the PDF, which draws it as vector squares.
"""

from __future__ import annotations

import segno
from markupsafe import Markup

# Error correction M: a printed bill gets creased; the quiet zone of 4 modules is the
# minimum scanners need.
ERROR = "m"
BORDER = 4


def _code(payload: str) -> segno.QRCode:
    # Byte mode in UTF-8, as the header's encoding tag 2 says.
    return segno.make_qr(payload, error=ERROR, encoding="utf-8", boost_error=False)


def svg(payload: str, *, title: str) -> Markup:
    """The code as an inline SVG element with an accessible title."""
    markup = _code(payload).svg_inline(
        scale=3, border=BORDER, title=title, svgclass="payment-qr", omitsize=False
    )
    return Markup(markup)  # noqa: S704 - segno escapes the title; the rest is its own markup


def modules(payload: str) -> list[list[bool]]:
    """The code's modules row by row (True: dark), with the quiet zone."""
    return [[bool(cell) for cell in row] for row in _code(payload).matrix_iter(border=BORDER)]
