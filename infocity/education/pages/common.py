"""What the education pages share: the choices of their application forms."""

from __future__ import annotations

from infocity.core.auth import Principal
from infocity.core.i18n import current_locale
from infocity.portal import service as portal

Options = list[tuple[int | str, str]]


def shown_name(name: str, name_en: str | None) -> str:
    """An organisation's name in the page's language."""
    return name_en if current_locale() == "en" and name_en else name


def document_options(actor: Principal) -> Options:
    """The documents of the parent's cabinet an application may point at."""
    return [(d.id, f"{d.title} ({d.person_name})") for d in portal.list_my_documents(actor)]
