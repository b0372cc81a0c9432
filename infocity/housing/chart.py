"""A meter's monthly consumption as an inline SVG bar chart, drawn on the server (no
JavaScript): one bar per month, labelled, with a text alternative for screen readers."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from markupsafe import Markup

from infocity.core.i18n import format_number as format_quantity
from infocity.housing.schemas import MeterRead

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 480, 170, 18, 28, 8
MAX_BARS = 12


def consumption(meter: MeterRead) -> list[tuple[str, Decimal]]:
    """(``MM.YYYY``, what was used that month) for the meter's readings, oldest first."""
    previous = meter.initial_value
    result = []
    for reading in meter.readings:
        result.append((reading.period.strftime("%m.%Y"), max(reading.value - previous, Decimal(0))))
        previous = reading.value
    return result[-MAX_BARS:]


def consumption_svg(meter: MeterRead, title: str, unit: str) -> Markup:
    """The chart of ``meter``; an empty string when it has no readings yet."""
    months = consumption(meter)
    if not months:
        return Markup("")
    peak = max((value for _, value in months), default=Decimal(0)) or Decimal(1)
    slot = (WIDTH - 2 * LEFT) / MAX_BARS
    plot = HEIGHT - TOP - BOTTOM
    description = "; ".join(f"{label}: {format_quantity(v)} {unit}" for label, v in months)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - LEFT}" '
        f'y2="{HEIGHT - BOTTOM}" stroke="#888"/>',
    ]
    for index, (label, value) in enumerate(months):
        height = float(value / peak) * plot
        x = LEFT + index * slot + slot * 0.15
        y = HEIGHT - BOTTOM - height
        width = slot * 0.7
        middle = x + width / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="#2f6db5"><title>{escape(label)}: {escape(format_quantity(value))} '
            f"{escape(unit)}</title></rect>"
            f'<text x="{middle:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">'
            f"{escape(format_quantity(value))}</text>"
            f'<text x="{middle:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="9" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped
