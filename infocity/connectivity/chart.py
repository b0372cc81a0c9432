"""Operators' figures as inline SVG bar charts drawn on the server (no JavaScript): one
bar per day or per hotspot, labelled, with a text alternative for screen readers."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from infocity.connectivity.schemas import DayCount, NetworkStats
from infocity.core.i18n import format_number

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 480, 170, 18, 28, 8
MAX_BARS = 31


def bars_svg(bars: list[tuple[str, int]], title: str) -> Markup:
    """A bar chart of (label, value); an empty string when there is nothing to draw."""
    bars = bars[-MAX_BARS:]
    if not bars:
        return Markup("")
    peak = max(value for _, value in bars) or 1
    slot = (WIDTH - 2 * LEFT) / max(len(bars), 7)
    plot = HEIGHT - TOP - BOTTOM
    description = "; ".join(f"{label}: {format_number(value)}" for label, value in bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - LEFT}" '
        f'y2="{HEIGHT - BOTTOM}" stroke="#888"/>',
    ]
    # Every label fits when there are few bars; with many, every seventh day.
    step = 1 if len(bars) <= 10 else 7
    for index, (label, value) in enumerate(bars):
        height = value / peak * plot
        x = LEFT + index * slot + slot * 0.15
        y = HEIGHT - BOTTOM - height
        width = slot * 0.7
        middle = x + width / 2
        shown = escape(format_number(value))
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="#2f6db5"><title>{escape(label)}: {shown}</title></rect>'
        )
        if index % step == 0:
            parts.append(
                f'<text x="{middle:.1f}" y="{y - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{shown}</text>'
                f'<text x="{middle:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="9" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def days_svg(days: list[DayCount], title: str) -> Markup:
    """A figure of one network a day (connections, unique devices)."""
    return bars_svg([(day.day.strftime("%d.%m"), day.value) for day in days], title)


def hotspots_svg(stats: NetworkStats, title: str) -> Markup:
    """Connections of each hotspot of one network, in the period."""
    return bars_svg([(spot.name[:12], spot.connections) for spot in stats.hotspots], title)
