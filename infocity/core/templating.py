"""The one Jinja2 environment, for pages and for notification texts alike.

Templates live beside the code that uses them: ``infocity/web/templates`` holds the
layout, and each service keeps ``infocity/<service>/templates/<service>/...``.
Text goes through the Babel catalogues (``{% trans %}`` and ``_()``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.ext import Extension
from markupsafe import Markup, escape

from infocity.core import i18n
from infocity.core.settings import get_settings

PACKAGE_DIR = Path(__file__).resolve().parent.parent


class _CurrentTranslations:
    """Looks up the catalogue of the current locale at call time."""

    def gettext(self, message: str) -> str:
        return i18n.translations(i18n.current_locale()).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return i18n.translations(i18n.current_locale()).ngettext(singular, plural, n)


# A web address in a message text; a trailing full stop or bracket is the sentence's.
_URL = re.compile(r"(https?://[^\s<>\"]+?|/[a-z][\w\-./?=&%#]*)(?=[.,;:!?)]*(?:\s|$))")


def _linked(line: str) -> Markup:
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(line):
        start = match.start()
        # A path counts only on its own or after a space: "и/или" is no link.
        if match.group().startswith("/") and start > 0 and not line[start - 1].isspace():
            continue
        parts.append(escape(line[position:start]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(match.group()))
        position = match.end()
    parts.append(escape(line[position:]))
    return Markup("").join(parts)


def text_to_html(text: str) -> Markup:
    """A message text as HTML: escaped, paragraphs and line breaks kept, links clickable."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(_linked(line) for line in p.split("\n")))
        for p in paragraphs
    )


# A tag ``{% ... %}`` or a comment ``{# ... #}``, for telling tag-only lines from text.
_TAG = re.compile(r"\{%.*?%\}|\{#.*?#\}")


class KeepTextLines(Extension):
    """In message texts, a line of text keeps its line break even when it ends in a tag.

    ``trim_blocks`` eats the newline after any block tag, which is right for a line
    holding only ``{% set %}`` or ``{% endif %}`` but glued ``...{% endtrans %}`` lines
    to the next one ("Room: 204Polyclinic: ..."). A line with text that ends in a tag
    gets a second newline, for the one the tag eats.
    """

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        lines = source.split("\n")
        for index, line in enumerate(lines[:-1]):
            stripped = line.rstrip()
            if stripped.endswith(("%}", "#}")) and _TAG.sub("", stripped).strip():
                lines[index] = stripped + "\n"
        return "\n".join(lines)


def _environment(*, messages: bool) -> Environment:
    search_path = [str(PACKAGE_DIR / "web" / "templates")]
    search_path += sorted(
        str(path) for path in PACKAGE_DIR.glob("*/templates") if path.parent.name != "web"
    )
    env = Environment(
        loader=FileSystemLoader(search_path),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n", *([KeepTextLines] if messages else [])],
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
    env.globals["demo_mailbox_on"] = lambda: get_settings().demo_mailbox_on
    env.filters["text_html"] = text_to_html
    return env


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The environment of pages."""
    return _environment(messages=False)


@lru_cache(maxsize=1)
def message_environment() -> Environment:
    """The environment of notification texts (``*/messages/*.txt``): plain text lines."""
    return _environment(messages=True)


def render_text(template_name: str, **context: Any) -> str:
    """Render a template in the current locale."""
    return environment().get_template(template_name).render(**context)


def render_message(template_name: str, **context: Any) -> tuple[str, str]:
    """Render a notification template into (subject, body): the first line is the subject."""
    text = message_environment().get_template(template_name).render(**context)
    # Trailing spaces dropped and blank lines kept to one, whatever the template's layout.
    lines = [line.rstrip() for line in text.strip().split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip()
