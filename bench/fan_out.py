"""The card events' fan-out alone: its CPU an event, the code of a revision against this
tree's, rounds taking turns (``python -m bench fan-out --against REV``).

One throwaway PostgreSQL cluster; pupils, their parents (and trusted adults reading
English) and a morning of entries and exits made once through the service functions;
then each round, in a fresh process importing one tree's ``infocity``, makes every event
untold again and calls ``fan_out_card_events`` in a loop until it returns 0. The figure
is that process's CPU seconds (PostgreSQL's own are not in it) and events a second.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.env import ROOT
from tests.support.postgres import throwaway_cluster

NAMES = ("Маша", "Петя", "Оля", "Ваня", "Лена", "Коля", "Аня", "Дима")

# One round, run with ``python -c`` in a process whose ``infocity`` is the tree measured.
ROUND = """
import json, time
from sqlalchemy import text
from infocity.cards.service import fan_out_card_events
from infocity.core.auth import SYSTEM
from infocity.core.uow import UnitOfWork
with UnitOfWork() as uow:
    for statement in ("DELETE FROM card_notices", "DELETE FROM outbox_messages",
                      "UPDATE card_events SET fanned_out_at = NULL"):
        uow.session.execute(text(statement))
    uow.commit()
load = open("/proc/loadavg").read().split()[0]
wall, cpu, events = time.perf_counter(), time.process_time(), 0
while n := fan_out_card_events(SYSTEM):
    events += n
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
with UnitOfWork() as uow:
    messages = uow.session.execute(text("SELECT count(*) FROM outbox_messages")).scalar()
print(json.dumps({"events": events, "messages": messages, "wall_s": wall, "cpu_s": cpu,
                  "load": [load, open("/proc/loadavg").read().split()[0]]}))
"""


def make_morning(url: str, *, pupils: int, events_per_pupil: int, english_adults: int) -> None:
    """The pupils, their adults and their morning, through the real service functions."""
    os.environ["INFOCITY_DATABASE_URL"] = url
    os.environ["INFOCITY_ENVIRONMENT"] = "test"
    from infocity.accounts import service as accounts
    from infocity.cards import service
    from infocity.cards.schemas.cards import TrustedAdultAdd
    from infocity.core import migrate
    from infocity.core.db import dispose_engines
    from infocity.core.settings import get_settings
    from tests.builders import make_citizen
    from tests.cards_builders import (
        enrolled_child,
        event,
        make_device,
        make_school,
        send,
        yesterday_at,
    )

    get_settings.cache_clear()
    migrate.upgrade(url)
    dispose_engines()
    school = make_school()
    turnstile = make_device(school.id)
    children = []
    for number in range(pupils):
        parent, pupil = enrolled_child(school, first_name=NAMES[number % len(NAMES)])
        for _adult in range(english_adults):
            adult = make_citizen(first_name="Grace")
            accounts.set_locale(adult.id, "en")
            service.add_trusted_adult(
                parent.principal, pupil.id, TrustedAdultAdd(contact=adult.identifier)
            )
        children.append(pupil)
    rows = [
        event(
            f"p{pupil.id}-{n}",
            "entry" if n % 2 == 0 else "exit",
            pupil.uid,
            yesterday_at(7) + timedelta(seconds=n * 30),
        )
        for pupil in children
        for n in range(events_per_pupil)
    ]
    for start in range(0, len(rows), 500):
        assert not send(turnstile, *rows[start : start + 500]).refused
    dispose_engines()


@contextmanager
def revision_tree(revision: str | None) -> Iterator[Path | None]:
    """The ``infocity`` package as it was at ``revision``, in a directory of its own
    (None: no revision asked for)."""
    if revision is None:
        yield None
        return
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "infocity"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory(prefix="infocity-rev-") as directory:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(directory, filter="data")
        yield Path(directory)


def one_round(url: str, tree: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "INFOCITY_DATABASE_URL": url,
        "INFOCITY_ENVIRONMENT": "test",
    }
    done = subprocess.run(
        [sys.executable, "-c", ROUND], env=env, cwd=tree, check=True, capture_output=True, text=True
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["events_per_cpu_s"] = round(figures["events"] / figures["cpu_s"])
    figures["events_per_s"] = round(figures["events"] / figures["wall_s"])
    return figures


def run(
    *, against: str | None, rounds: int, pupils: int, events_per_pupil: int, english_adults: int
) -> dict[str, Any]:
    """``rounds`` rounds of each tree, taking turns: ``against`` (A), then this tree (B)."""
    with throwaway_cluster() as admin, revision_tree(against) as before:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("CREATE DATABASE fan_out")
        url = admin.rsplit("/", 1)[0] + "/fan_out"
        make_morning(
            url, pupils=pupils, events_per_pupil=events_per_pupil, english_adults=english_adults
        )
        trees = [("A", before), ("B", ROOT)] if before is not None else [("B", ROOT)]
        results: dict[str, list[dict[str, Any]]] = {label: [] for label, _tree in trees}
        for _round in range(rounds):
            for label, tree in trees:
                results[label].append(one_round(url, tree))
    return {
        "against": against,
        "pupils": pupils,
        "events": pupils * events_per_pupil,
        "adults_per_pupil": 1 + english_adults,
        "rounds": results,
    }


def rows(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """A line a round, in the order they ran."""
    lines: list[tuple[str, Any]] = []
    turns = figures["rounds"]
    for number in range(1, len(turns["B"]) + 1):
        for label, rounds in turns.items():
            tree = figures["against"] if label == "A" else "this tree"
            result = rounds[number - 1]
            lines.append(
                (
                    f"{label} ({tree}) round {number}: CPU s (events / CPU s), events / s, load",
                    f"{result['cpu_s']:.2f} ({result['events_per_cpu_s']:,}), "
                    f"{result['events_per_s']:,}, {'-'.join(result['load'])}",
                )
            )
    return lines
