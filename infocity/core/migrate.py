"""Schema migrations (Alembic), run from the CLI, ``make run`` and the tests."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from infocity.core.db import get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
HEAD_FILE = MIGRATIONS_DIR / "HEAD"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` (default: the configured one) up to ``revision``."""
    engine = get_engine(url)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def next_revision_id(head: str | None, message: str) -> str:
    """The id of the migration after ``head``: the next number and the message's words
    ("0013_exam_results" after "0012_person_sex" for "Exam results")."""
    number = int(head.split("_", 1)[0]) + 1 if head else 1
    words = re.findall(r"[a-z0-9]+", message.lower())
    slug = "_".join(words)[:40].rstrip("_")
    return f"{number:04d}_{slug}" if slug else f"{number:04d}"


def revision(message: str) -> None:
    """Autogenerate the next numbered migration from the models (database at head) and
    record it in ``HEAD``."""
    engine = get_engine()
    config = _config()
    heads = ScriptDirectory.from_config(config).get_heads()
    rev_id = next_revision_id(heads[0] if heads else None, message)
    # The file is named by its id alone ("0013_exam_results.py"), as the others are.
    config.set_main_option("file_template", "%%(rev)s")
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if Path(ruff).exists():
        # Alembic's post-write hooks: the new file comes out lint-clean and formatted.
        config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
        for name, options in (
            ("ruff_fix", "check --fix --exit-zero --quiet REVISION_SCRIPT_FILENAME"),
            ("ruff_format", "format REVISION_SCRIPT_FILENAME"),
        ):
            config.set_section_option("post_write_hooks", f"{name}.type", "exec")
            config.set_section_option("post_write_hooks", f"{name}.executable", ruff)
            config.set_section_option("post_write_hooks", f"{name}.options", options)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
    HEAD_FILE.write_text(rev_id + "\n", encoding="utf-8")


def script_head() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(url: str | None = None) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(url: str | None = None) -> bool:
    """True when the database has every migration applied."""
    return current_revision(url) == script_head()
