"""The one Jinja2 environment, for pages and for notification texts alike.

Templates live beside the code that uses them: ``infocity/web/templates`` holds the
layout, and each service keeps ``infocity/<service>/templates/<service>/...``.
Text goes through the Babel catalogues (``{% trans %}`` and ``_()``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from infocity.core import i18n

PACKAGE_DIR = Path(__file__).resolve().parent.parent


class _CurrentTranslations:
    """Looks up the catalogue of the current locale at call time."""

    def gettext(self, message: str) -> str:
        return i18n.translations(i18n.current_locale()).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return i18n.translations(i18n.current_locale()).ngettext(singular, plural, n)


@lru_cache(maxsize=1)
def environment() -> Environment:
    search_path = [str(PACKAGE_DIR / "web" / "templates")]
    search_path += sorted(
        str(path) for path in PACKAGE_DIR.glob("*/templates") if path.parent.name != "web"
    )
    env = Environment(
        loader=FileSystemLoader(search_path),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(_CurrentTranslations(), newstyle=True)  # type: ignore[attr-defined]
    env.globals["format_datetime"] = i18n.format_datetime
    # Numbers and dates in the language of the page: {{ bill.total|money }}, {{ day|day }}.
    env.filters["day"] = i18n.format_day
    env.filters["moment"] = i18n.format_moment
    env.filters["month"] = i18n.format_month
    env.filters["quantity"] = i18n.format_number
    env.filters["amount"] = i18n.format_amount
    env.filters["money"] = i18n.format_money
    env.globals["current_locale"] = i18n.current_locale
    return env


def render_text(template_name: str, **context: Any) -> str:
    """Render a template in the current locale."""
    return environment().get_template(template_name).render(**context)


def render_message(template_name: str, **context: Any) -> tuple[str, str]:
    """Render a notification template into (subject, body): the first line is the subject."""
    text = render_text(template_name, **context).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip()
