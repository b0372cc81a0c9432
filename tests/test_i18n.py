"""Every user-facing string has a Russian translation; placeholders survive translation."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir

from infocity.core import i18n

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import update_catalogues  # noqa: E402

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set[str]:
    messages: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        update_catalogues.PACKAGE,
        update_catalogues.METHODS,
        options_map=update_catalogues.OPTIONS,
        keywords=update_catalogues.KEYWORDS,
    ):
        messages.update([message] if isinstance(message, str) else list(message))
    return {m for m in messages if m}


def test_every_message_has_a_russian_translation() -> None:
    russian = i18n.translations("ru")
    missing = sorted(m for m in _extracted() if russian.gettext(m) == m)
    assert missing == [], f"untranslated into Russian (run `make messages`): {missing}"


def test_translations_keep_every_placeholder() -> None:
    russian = i18n.translations("ru")
    broken = [
        m for m in _extracted()
        if set(PLACEHOLDER.findall(russian.gettext(m))) != set(PLACEHOLDER.findall(m))
    ]
    assert broken == []


def test_english_is_the_message_id_itself() -> None:
    with i18n.use_locale("en"):
        assert i18n.gettext("Please log in to continue.") == "Please log in to continue."
    with i18n.use_locale("ru"):
        assert i18n.gettext("Please log in to continue.") == "Войдите, чтобы продолжить."
