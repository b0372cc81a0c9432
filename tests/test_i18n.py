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


def _extracted() -> set[str | tuple[str, str]]:
    """Every message id in the code and templates; plural ones as (singular, plural)."""
    messages: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        update_catalogues.PACKAGE,
        update_catalogues.METHODS,
        options_map=update_catalogues.OPTIONS,
        keywords=update_catalogues.KEYWORDS,
    ):
        if isinstance(message, str):
            messages.add(message)
        else:
            messages.add((message[0], message[1]))
    return {m for m in messages if m}


def _russian(message: str | tuple[str, str], n: int = 5) -> str:
    russian = i18n.translations("ru")
    if isinstance(message, str):
        return russian.gettext(message)
    return russian.ngettext(message[0], message[1], n)


def test_every_message_has_a_russian_translation() -> None:
    missing = sorted(
        str(m) for m in _extracted() if _russian(m) == (m if isinstance(m, str) else m[1])
    )
    assert missing == [], f"untranslated into Russian (run `make messages`): {missing}"


def test_translations_keep_every_placeholder() -> None:
    broken = []
    for message in _extracted():
        original = message if isinstance(message, str) else message[1]
        for n in (1, 3, 5):  # every Russian plural form
            if set(PLACEHOLDER.findall(_russian(message, n))) - {"num"} != set(
                PLACEHOLDER.findall(original)
            ) - {"num"}:
                broken.append(original)
    assert broken == []


def test_every_english_message_reads_as_its_message_id() -> None:
    english = i18n.translations("en")
    wrong = []
    for message in _extracted():
        if isinstance(message, str):
            if english.gettext(message) != message:
                wrong.append(message)
        elif english.ngettext(message[0], message[1], 1) != message[0]:
            wrong.append(message[0])
    assert wrong == []


def test_english_is_the_message_id_itself() -> None:
    with i18n.use_locale("en"):
        assert i18n.gettext("Please log in to continue.") == "Please log in to continue."
    with i18n.use_locale("ru"):
        assert i18n.gettext("Please log in to continue.") == "Войдите, чтобы продолжить."


def test_each_message_has_one_translation_in_one_catalogue() -> None:
    # Catalogues are merged at start: a message in two catalogues would be translated by
    # whichever loads last. Shared messages belong in messages.po (`make messages`).
    from babel.messages.pofile import read_po

    owners: dict[str, list[str]] = {}
    for path in sorted((i18n.LOCALE_DIR / "ru" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh):
                if message.id:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    owners.setdefault(key, []).append(path.stem)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}
