"""The schema comes from the migrations, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from infocity.accounts.read_model import VIEWS
from infocity.core import migrate
from infocity.core.db import get_engine
from infocity.models import metadata


def test_head_file_names_the_latest_migration() -> None:
    # A new migration must update HEAD (`infocity db revision` does); two branches
    # landing at once then conflict in this file instead of at deploy time.
    recorded = migrate.HEAD_FILE.read_text(encoding="utf-8").strip()
    assert recorded == migrate.script_head()


def test_migrated_database_matches_the_models(database: str) -> None:
    with get_engine(database).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrated_database_has_the_declared_views(database: str) -> None:
    # Views are declared apart from the tables (compare_metadata is about tables): the
    # migrations must create each with the columns its readers compile against.
    inspector = inspect(get_engine(database))
    assert set(VIEWS.tables) <= set(inspector.get_view_names())
    for view in VIEWS.tables.values():
        columns = {column["name"] for column in inspector.get_columns(view.name)}
        assert columns == set(view.columns.keys()), view.name


def test_upgrade_is_idempotent_and_current(database: str) -> None:
    migrate.upgrade(database)
    assert migrate.is_current(database)


def test_the_next_migration_is_numbered_after_the_head_and_named_by_its_message() -> None:
    assert migrate.next_revision_id("0012_person_sex", "Education: exam results") == (
        "0013_education_exam_results"
    )
    assert migrate.next_revision_id(None, "Foundation") == "0001_foundation"
    assert migrate.next_revision_id("0009", "Схема") == "0010"  # no Latin words: the number alone
