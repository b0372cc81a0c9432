"""The monthly bill as a PDF (fpdf2), in the reader's language.

PDF's built-in fonts have no Cyrillic, so a TrueType font is embedded: the one named by
``INFOCITY_PDF_FONT_PATH``, else DejaVu Sans (Debian's ``fonts-dejavu-core``, which
``scripts/ensure-test-deps.sh`` installs) or Liberation Sans from the system, else the
DejaVu Sans that matplotlib ships if it happens to be installed. No Python package is
added just for a font.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from babel.dates import format_date

from infocity.core.i18n import N_, current_locale, format_amount, format_number, gettext
from infocity.core.settings import get_settings
from infocity.housing import qr
from infocity.housing.rules import SERVICE_LABELS, UNITS
from infocity.housing.schemas import BillRead

if TYPE_CHECKING:
    from fpdf import FPDF

# fontTools logs each step of subsetting the embedded font at INFO, some twenty lines a
# bill; only its warnings are worth an operator's attention.
logging.getLogger("fontTools").setLevel(logging.WARNING)

SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)


class FontMissing(RuntimeError):
    """No TrueType font with Cyrillic was found (a deployment problem, not the user's)."""


@lru_cache(maxsize=4)
def font_path(configured: str | None = None) -> Path:
    """The TrueType font to embed (see the module's docstring for the order)."""
    candidates = [configured] if configured else []
    candidates += list(SYSTEM_FONTS)
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        candidates.append(str(Path(spec.origin).parent / "mpl-data/fonts/ttf/DejaVuSans.ttf"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "No TrueType font with Cyrillic for PDF bills: install Debian's fonts-dejavu-core "
        "or set INFOCITY_PDF_FONT_PATH"
    )


def bill_pdf(bill: BillRead) -> bytes:
    """The printable bill as PDF bytes."""
    # fpdf2 brings fontTools and Pillow, the largest part of the pages' start-up: imported
    # by the first bill a process prints, not by every process that serves pages.
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    _ = gettext
    locale = current_locale()
    pdf = FPDF(format="A4")
    pdf.set_title(f"{_('Single payment document')} {bill.period:%Y-%m}")
    # The payer code in the metadata too: banks' scanners and tests find it there.
    pdf.set_subject(
        f"payer code {bill.apartment.payer_code}, period {bill.period:%Y-%m}, "
        f"to pay {bill.to_pay:.2f}"
    )
    pdf.set_author(bill.operator_name)
    pdf.set_creator("InfoCity")
    pdf.add_page()
    pdf.add_font("Body", fname=str(font_path(get_settings().pdf_font_path)))
    pdf.set_font("Body", size=16)
    month = format_date(bill.period, "LLLL yyyy", locale=locale)
    title = f"{_('Single payment document')}: {month}"
    pdf.cell(0, 10, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Body", size=10)
    facts = (
        (_("Payer code"), bill.apartment.payer_code),
        (_("Address"), f"{bill.apartment.address}, {_('apt.')} {bill.apartment.number}"),
        (_("Residents"), str(bill.apartment.residents)),
        (_("Managing organisation"), bill.operator_name),
    )
    for label, value in facts:
        pdf.cell(58, 6, label)
        pdf.cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    widths = (55, 25, 30, 35, 35)
    headers = (_("Service"), _("Basis"), _("Quantity"), _("Tariff, RUB"), _("Amount, RUB"))
    for width, header in zip(widths, headers, strict=True):
        pdf.cell(width, 7, header, border=1)
    pdf.ln()
    for line in bill.lines:
        unit = _(UNITS[line.service])
        basis = _("meter") if line.basis == "meter" else _("norm")
        cells = (
            _(SERVICE_LABELS[line.service]),
            basis,
            f"{format_number(line.quantity)} {unit}",
            format_amount(line.price),
            format_amount(line.amount),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 7, text, border=1)
        pdf.ln()
    pdf.ln(3)
    totals = (
        (_("Charged for the month"), bill.total),
        (_("Debt before this bill"), bill.debt_before),
        (_("To pay"), bill.to_pay),
    )
    for label, amount in totals:
        pdf.cell(145, 7, label, align="R")
        pdf.cell(35, 7, format_amount(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _payment_section(pdf, bill)
    return bytes(pdf.output())


QR_SIZE_MM = 50  # the code with its quiet zone: beside the details, easy to scan


def _payment_section(pdf: FPDF, bill: BillRead) -> None:
    """The payee's bank details and the payment QR code, or a note that there are none."""
    from fpdf.enums import XPos, YPos

    _ = gettext
    if bill.payee is None or bill.payment_qr is None:
        pdf.multi_cell(0, 6, _(NO_BANK_DETAILS), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    payee = bill.payee
    if pdf.get_y() + QR_SIZE_MM > pdf.page_break_trigger:
        pdf.add_page()  # the code and the details it carries stay together
    top = pdf.get_y()
    facts = (
        (_("Payee"), payee.name),
        (_("Payee's INN"), payee.inn),
        (_("Account"), payee.personal_account),
        (_("Bank"), payee.bank_name),
        (_("BIC"), payee.bic),
        (_("Correspondent account"), payee.correspondent_account),
    )
    for label, value in facts:
        pdf.cell(45, 6, label)
        pdf.multi_cell(85, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.multi_cell(130, 6, _(SCAN_TO_PAY), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # Vector squares, not an image: sharp at any print size, nothing to decode.
    matrix = qr.modules(bill.payment_qr)
    module = QR_SIZE_MM / len(matrix)  # long names make more modules, not a larger code
    left = pdf.w - pdf.r_margin - QR_SIZE_MM
    pdf.set_fill_color(0, 0, 0)
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                pdf.rect(left + column * module, top + row * module, module, module, style="F")


NO_BANK_DETAILS = N_(
    "The housing operator has not given its bank details yet, so this bill has no "
    "payment QR code: pay at the operator's office or by the details it publishes."
)
SCAN_TO_PAY = N_("Scan the QR code in your bank's app to pay this bill.")
