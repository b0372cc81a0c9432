"""Extract translatable strings per service and update its ru/en catalogues.

Each service package has its own catalogue (``infocity/locale/<lang>/LC_MESSAGES/<service>.po``);
the core, the web shell and the CLI share ``messages.po``. New strings get an empty
translation to fill in; strings no longer used are dropped.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "infocity"
LOCALES = ("ru", "en")
SHELL = {"core", "web", "migrations", "locale"}
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
METHODS = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**/templates/**.txt", "jinja2.ext:babel_extract"),
]
OPTIONS = {"**/templates/**": {"extensions": "jinja2.ext.i18n"}}


def domain_of(path: str) -> str:
    top = Path(path).parts[0]
    return "messages" if top in SHELL or top.endswith(".py") else top


def _key(message: str | tuple[str, ...]) -> str:
    return message if isinstance(message, str) else message[0]


def _known_translations(directory: Path) -> dict[str, object]:
    """Every translation already made in any catalogue of a locale (shared ones first)."""
    known: dict[str, object] = {}
    for path in sorted(directory.glob("*.po"), key=lambda p: p.stem != "messages"):
        with path.open("rb") as fh:
            for message in read_po(fh):
                if message.id and message.string and _key(message.id) not in known:
                    known[_key(message.id)] = message.string
    return known


def main() -> None:
    # A message used by one service lives in its catalogue; one used by several lives in
    # the shared ``messages`` catalogue, so it has exactly one translation.
    domains: dict[str, set[str]] = {}
    found: dict[str, str | tuple[str, ...]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        PACKAGE, METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        domains.setdefault(_key(message), set()).add(domain_of(filename))
        found[_key(message)] = message
    templates: dict[str, Catalog] = {}
    for key, used_in in domains.items():
        domain = used_in.pop() if len(used_in) == 1 else "messages"
        templates.setdefault(domain, Catalog()).add(found[key])
    for locale in LOCALES:
        directory = PACKAGE / "locale" / locale / "LC_MESSAGES"
        directory.mkdir(parents=True, exist_ok=True)
        known = _known_translations(directory)
        for domain, template in templates.items():
            path = directory / f"{domain}.po"
            if path.exists():
                with path.open("rb") as fh:
                    catalog = read_po(fh, locale=locale)
                before = path.read_bytes()
            else:
                catalog = Catalog(locale=locale, domain=domain)
                before = b""
            created = catalog.creation_date
            # A copy per catalogue: update() may adopt the template's message objects,
            # and a translation filled in for one locale must not leak into another.
            catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
            for message in catalog:
                # A message that moved between catalogues keeps its translation.
                if message.id and not message.string and _key(message.id) in known:
                    message.string = known[_key(message.id)]
            # Keep the header's date unless the file was new, so an unchanged catalogue
            # is not rewritten (no churn in commits).
            catalog.creation_date = created
            catalog.project, catalog.version = "InfoCity", ""
            catalog.copyright_holder = "InfoCity contributors"
            catalog.msgid_bugs_address = ""
            catalog.fuzzy = False
            catalog.obsolete.clear()
            buffer = io.BytesIO()
            write_po(buffer, catalog, sort_output=True, width=100)
            if buffer.getvalue() != before:
                path.write_bytes(buffer.getvalue())
            missing = sum(1 for m in catalog if m.id and not m.string)
            print(f"{locale}/{domain}.po: {len(catalog)} messages, {missing} untranslated")


if __name__ == "__main__":
    main()
