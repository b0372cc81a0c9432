"""The code keeps one shape: modules a reader can hold, and a service package that callers
use as one module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import infocity

PACKAGE = Path(infocity.__file__).resolve().parent
MAX_LINES = 800
# Modules of the package that build SQL statements for the use cases rather than offer use
# cases of their own: their functions are for the package's modules, not for callers.
STATEMENT_MODULES = {"slot_sql"}
# Over the limit with a reason given in review (none today: every long module was split).
KNOWN_LONG: set[str] = set()


def test_no_new_module_is_over_the_limit() -> None:
    long = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
        and len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES
    }
    assert long <= KNOWN_LONG, sorted(long - KNOWN_LONG)


def _split_packages() -> list[str]:
    # Every service's use cases or reads that are a package rather than one module.
    return sorted(
        f"infocity.{path.parent.parent.name}.{path.parent.name}"
        for path in PACKAGE.glob("*/*/__init__.py")
        if path.parent.name in {"service", "reads"}
    )


@pytest.mark.parametrize("name", _split_packages())
def test_a_split_package_offers_every_public_function_of_its_modules(name: str) -> None:
    # Callers write service.<function> (reads.<function>): a function added to a module but
    # not re-exported would be reachable only by a path the routes are not meant to know.
    package = importlib.import_module(name)
    defined = set()
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name in STATEMENT_MODULES:
            continue
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        defined |= {
            name
            for name, value in vars(module).items()
            if inspect.isfunction(value)
            and value.__module__ == module.__name__
            and not name.startswith("_")
        }
    exported = {
        name
        for name in package.__all__
        if inspect.isfunction(getattr(package, name))
        and getattr(package, name).__module__.startswith(package.__name__)
    }
    assert defined == exported


def test_the_split_packages_are_found() -> None:
    # The test above would pass vacuously if the glob found nothing.
    assert {"infocity.health.service", "infocity.health.reads"} <= set(_split_packages())


def test_the_web_kit_loads_no_city_service() -> None:
    # Every service's routes import the kit: were it to import a service (or the
    # application, which imports them all), the packages would import each other in a loop.
    probe = (
        "import sys, infocity.web.deps, infocity.web.errors, infocity.web.limits; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[:2] in SERVICES)))"
    ).replace(
        "SERVICES",
        repr([["infocity", s] for s in ("accounts", "city", "health", "housing", "portal", "app")]),
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


# Field validators shared by accounts' forms raise InvalidInput for the field they are
# given; every other refusal of a service is a named class in its errors.py.
INLINE_REFUSALS_ALLOWED = {"accounts/rules.py"}


def test_services_refuse_with_the_named_refusals_of_their_errors_module() -> None:
    inline = re.compile(
        r"raise (Conflict|InvalidInput|NotFound|Forbidden|Unauthenticated|AppError)\("
    )
    found = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.glob("*/**/*.py")
        if path.parts[len(PACKAGE.parts)] not in {"core", "web", "migrations"}
        and path.name != "errors.py"
        and "pages" not in path.relative_to(PACKAGE).parts  # a form's own plumbing
        and inline.search(path.read_text(encoding="utf-8"))
    }
    assert found == INLINE_REFUSALS_ALLOWED


# What a service offers the others: its use cases and the schemas they take; besides,
# accounts' views of the register and the portal's registry of plug-ins.
OFFERED = {"service", "schemas"}
OFFERED_BY = {"accounts": {"read_model"}, "portal": {"registry"}}


def _services() -> list[str]:
    # A city service is a package with use cases (a service module or package).
    return sorted(
        path.parent.name
        for path in PACKAGE.glob("*/service*")
        if path.name == "service.py" or (path / "__init__.py").exists()
    )


def _contracts() -> list[dict[str, Any]]:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _contract(name_start: str) -> dict[str, Any]:
    (found,) = [c for c in _contracts() if c["name"].startswith(name_start)]
    return found


def test_the_services_are_found() -> None:
    # The tests below would pass vacuously if the glob found none.
    assert {"accounts", "city", "health", "housing", "portal"} <= set(_services())


@pytest.mark.parametrize("name", _services())
def test_other_services_are_forbidden_every_module_of_a_service_but_what_it_offers(
    name: str,
) -> None:
    # A module added to a service (a protocol adapter, a chart, its demo data) is closed
    # to the other services from the start, not when someone remembers to list it.
    others = {f"infocity.{s}" for s in _services() if s != name}
    closed = {
        module
        for contract in _contracts()
        if contract["type"] == "forbidden" and others <= set(contract["source_modules"])
        for module in contract["forbidden_modules"]
    }
    modules = {info.name for info in pkgutil.iter_modules([str(PACKAGE / name)])}
    open_to_others = OFFERED | OFFERED_BY.get(name, set())
    left_open = {f"infocity.{name}.{m}" for m in modules - open_to_others} - closed
    assert left_open == set()


def test_every_service_is_layered_and_its_rules_are_pure_and_the_core_and_kit_import_none() -> None:
    services = {f"infocity.{s}" for s in _services()}
    assert set(_contract("Inside a service:")["containers"]) == services
    pure = set(_contract("Rules are pure")["source_modules"])
    assert {f"{s}.rules" for s in services} <= pure
    assert services <= set(_contract("The core depends on no city service")["forbidden_modules"])
    assert services <= set(_contract("The web kit imports no city service")["forbidden_modules"])


def test_the_largest_id_is_written_once() -> None:
    # The database's bigint ceiling, for ids from outside: core.schemas.MAX_ID (and Id).
    literal = re.compile(r"2\s*\*\*\s*63")
    found = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and literal.search(path.read_text(encoding="utf-8"))
    }
    assert found == {"core/schemas.py"}


# Where SQLite and PostgreSQL need different statements, one module says which runs: the
# booking lane's statements, and the writer of the city's Slot file (PostgreSQL writes its
# lines, elsewhere Python does). Use cases never ask the database which it is.
DIALECT_DECIDED_IN = {"health/service/slot_sql.py", "health/fhir/slot_lines.py"}


def test_no_service_asks_which_database_it_runs_on_but_the_lane_s_statements() -> None:
    asks = re.compile(r"\.dialect\b|[\"'](postgresql|sqlite)[\"']")
    found = {
        path.relative_to(PACKAGE).as_posix()
        for name in _services()
        for path in (PACKAGE / name).rglob("*.py")
        if asks.search(path.read_text(encoding="utf-8"))
    }
    assert found == DIALECT_DECIDED_IN


def test_what_a_search_takes_is_called_a_filter_in_every_service() -> None:
    # SlotFilter, RequestFilter, AuditFilter...: one word for one thing across the API.
    search = re.compile(r"^class \w+(Search|Query)\(", re.MULTILINE)
    found = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.glob("*/schemas*")
        for module in ([path] if path.is_file() else sorted(path.glob("*.py")))
        if search.search(module.read_text(encoding="utf-8"))
    }
    assert found == set()
