"""The code keeps one shape: modules a reader can hold, and a service package that callers
use as one module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

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
