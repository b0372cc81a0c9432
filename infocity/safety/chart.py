"""The current outages as a map-like SVG: one tile per district, its colour by the share
of its cameras out of order, with the numbers written on it (drawn on the server, with a
text alternative for screen readers)."""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

from infocity.safety.schemas import DistrictStateRead

TILE_W, TILE_H, GAP = 150, 64, 6


def _colour(share: float) -> str:
    if share == 0:
        return "#cfe8cf"
    if share < 0.05:
        return "#f6e3a1"
    if share < 0.2:
        return "#f4b26b"
    return "#e07060"


def districts_svg(districts: list[DistrictStateRead], title: str, english: bool) -> Markup:
    """The map of ``districts``; an empty string when there are none."""
    if not districts:
        return Markup("")
    columns = min(4, len(districts))
    rows = math.ceil(len(districts) / columns)
    width = columns * (TILE_W + GAP) + GAP
    height = rows * (TILE_H + GAP) + GAP
    description = "; ".join(
        f"{(d.name_en if english and d.name_en else d.name)}: {d.down}/{d.cameras}"
        for d in districts
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
    ]
    for index, district in enumerate(districts):
        x = GAP + (index % columns) * (TILE_W + GAP)
        y = GAP + (index // columns) * (TILE_H + GAP)
        name = district.name_en if english and district.name_en else district.name
        share = district.down / district.cameras if district.cameras else 0.0
        parts.append(
            f'<g class="district" data-district="{district.district_id or ""}">'
            f'<rect x="{x}" y="{y}" width="{TILE_W}" height="{TILE_H}" rx="6" '
            f'fill="{_colour(share)}" stroke="#666"/>'
            f'<text x="{x + 8}" y="{y + 20}" font-size="12">{escape(name[:22])}</text>'
            f'<text x="{x + 8}" y="{y + 42}" font-size="16">{district.down} / '
            f"{district.cameras}</text>"
            f'<text x="{x + 8}" y="{y + 58}" font-size="10">'
            f"{'■' * min(district.buildings_dark, 10)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped
