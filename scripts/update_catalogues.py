"""Extract translatable strings per service and update its ru/en catalogues.

Each service package has its own catalogue (``infocity/locale/<lang>/LC_MESSAGES/<service>.po``);
the core, the web shell and the CLI share ``messages.po``. New strings get an empty
translation to fill in; strings no longer used are dropped.
"""

from __future__ import annotations

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


def main() -> None:
    templates: dict[str, Catalog] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        PACKAGE, METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        domain = domain_of(filename)
        templates.setdefault(domain, Catalog()).add(message)
    for locale in LOCALES:
        directory = PACKAGE / "locale" / locale / "LC_MESSAGES"
        directory.mkdir(parents=True, exist_ok=True)
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
            catalog.update(template, no_fuzzy_matching=True)
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
