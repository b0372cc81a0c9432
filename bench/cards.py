"""School cards and social cards on the synthetic city, in one run (``python -m bench cards``):

1. ingest: turnstiles' batches of entries and exits through ``POST /cards/devices/events``
   (2 server processes, closed loop), against a bare COPY of the same events into
   ``card_events`` (the limit);
2. fan-out at the morning peak: entries offered at a steady rate (2,000 a second at
   scale 1) with ``infocity worker`` running beside (the prompt jobs in a process of their
   own, ``--fan-out-workers``); the latency from an event (its
   device time, the moment it was sent) to the parent's inbox row, seen by a poller;
3. till authorization: the tills at a till's pace (each asks every 10-20 s, open loop,
   timed from the scheduled moment), then the same tills asking at once, closed loop
   (the capacity);
4. the eligibility endpoint of transit validators against ``/healthz`` on the same stack.

``only`` runs some of the phases (a loaded city's ingest alone, say).

The ingest's events are marked told before the peak so that the worker starts from an
empty backlog (the peak is what is measured); everything the run wrote is deleted at the
end, so the scenario can be repeated on the same city.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.client import Connection, Request, Result, drive, drive_schedules, percentile
from bench.env import ROOT, City, process_spread
from infocity.analytics.synthetic import device_key

EVENTS_PATH = "/api/v1/cards/devices/events"
AUTHORIZE_PATH = "/api/v1/cards/devices/authorizations"
ELIGIBILITY_PATH = "/api/v1/cards/social/eligibility/"
RUN_TAG = "bench-"  # device event ids and request ids of this scenario start with it
LUNCH = [{"name": "Обед", "category": "hot_meal", "price": 5_000}]


@dataclass(frozen=True)
class Card:
    uid: str
    pupil_id: int
    school_id: int


@dataclass
class Devices:
    turnstiles: dict[int, list[tuple[int, str]]]  # school -> (device id, raw key)
    tills: list[tuple[int, int, str]]  # (school, device id, raw key)
    validators: list[str]  # raw keys
    cards: list[Card]
    social_uids: list[str]


def load_devices(city: City) -> Devices:
    """The city's turnstiles, tills, validators, pupils' cards and social card UIDs."""
    turnstiles: dict[int, list[tuple[int, str]]] = {}
    tills: list[tuple[int, int, str]] = []
    validators: list[str] = []
    with city.connect() as connection:
        for device_id, school, kind in connection.execute(
            "SELECT id, organisation_id, kind FROM device_keys WHERE revoked_at IS NULL "
            "AND kind IN ('turnstile', 'till', 'validator') ORDER BY id"
        ):
            key = device_key(city.seed, device_id)
            if kind == "turnstile":
                turnstiles.setdefault(school, []).append((device_id, key))
            elif kind == "till":
                tills.append((school, device_id, key))
            else:
                validators.append(key)
        cards = [
            Card(uid, pupil, school)
            for uid, pupil, school in connection.execute(
                "SELECT c.uid, p.id, p.school_id FROM school_cards c "
                "JOIN card_pupils p ON p.id = c.pupil_id WHERE c.status = 'active' ORDER BY c.id"
            )
        ]
        social = [row[0] for row in connection.execute("SELECT uid FROM social_cards")]
    return Devices(turnstiles, tills, validators, cards, social)


def _event(card: Card, tag: str, kind: str, at: datetime) -> dict[str, Any]:
    return {"event_id": f"{RUN_TAG}{tag}-{card.pupil_id}", "kind": kind, "uid": card.uid,
            "at": at.isoformat()}  # fmt: skip


def _batches(
    devices: Devices, cards: list[Card], rounds: list[tuple[str, str, datetime]], size: int
) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """Each card's event of each round (tag, kind, moment), a school's events in batches of
    ``size``, each batch from the school's turnstiles in turn (a turnstile buffers its
    passes and sends them at once; per device alone a school's ~90 passes a round would
    never fill a large batch): (device id, key, events)."""
    by_school: dict[int, list[dict[str, Any]]] = {}
    for tag, kind, at in rounds:
        for card in cards:
            by_school.setdefault(card.school_id, []).append(_event(card, tag, kind, at))
    batches = []
    for school, events in by_school.items():
        gates = devices.turnstiles[school]
        for n, start in enumerate(range(0, len(events), size)):
            device_id, key = gates[n % len(gates)]
            batches.append((device_id, key, events[start : start + size]))
    return batches


def _post(key: str, events: list[dict[str, Any]], tag: str = "") -> Request:
    return Request("POST", EVENTS_PATH, {"events": events},
                   headers=(("X-Device-Key", key),), tag=tag)  # fmt: skip


# --- 1. ingest and the bare COPY ---------------------------------------------------


def ingest(
    base_url: str, devices: Devices, cards: list[Card], *, rounds: int, size: int, clients: int
) -> dict[str, Any]:
    """Every card passes ``rounds`` times (entry, exit, entry…), batches of ``size``."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    kinds = [("entry" if r % 2 == 0 else "exit") for r in range(rounds)]
    batches = _batches(
        devices, cards,
        [(f"ingest{r}", kind, at + timedelta(seconds=r)) for r, kind in enumerate(kinds)], size,
    )  # fmt: skip
    random.Random(1).shuffle(batches)
    queue = iter(batches)

    def next_request(_client: int) -> Request | None:
        batch = next(queue, None)
        return None if batch is None else _post(batch[1], batch[2])

    results, elapsed = asyncio.run(drive(base_url, clients, next_request, duration=600))
    accepted = duplicates = refused = 0
    for result in results:
        if result.status == 200:
            body = result.json()
            accepted += body["accepted"]
            duplicates += body["duplicates"]
            refused += len(body["refused"])
    latencies = [r.seconds * 1000 for r in results]
    return {
        "events_sent": sum(len(b[2]) for b in batches),
        "batches": len(batches),
        "batch_size": size,
        "mean_batch": round(sum(len(b[2]) for b in batches) / len(batches), 1) if batches else 0,
        "clients": clients,
        "seconds": round(elapsed, 2),
        "accepted": accepted,
        "duplicates": duplicates,
        "refused": refused,
        "errors": sum(1 for r in results if r.status != 200),
        "events_per_second": round(accepted / elapsed) if elapsed else 0,
        "batch_latency_ms": _latency(latencies),
    }


def bare_copy(city: City, devices: Devices, cards: list[Card], *, rounds: int) -> dict[str, Any]:
    """The same events (pupil, card and school already known) COPYed into card_events in
    one transaction: what the table and its indexes take at best."""
    card_ids: dict[str, int] = {}
    with city.connect() as connection:
        for uid, card_id in connection.execute("SELECT uid, id FROM school_cards"):
            card_ids[uid] = card_id
    at = datetime.now(UTC) - timedelta(minutes=5)
    rows = []
    for r in range(rounds):
        kind = "entry" if r % 2 == 0 else "exit"
        for n, card in enumerate(cards):
            gates = devices.turnstiles[card.school_id]
            rows.append((gates[n % len(gates)][0], f"{RUN_TAG}copy{r}-{card.pupil_id}",
                         card.pupil_id, card_ids[card.uid], card.school_id, kind,
                         at + timedelta(seconds=r), at))  # fmt: skip
    with city.connect() as connection:
        began = time.perf_counter()
        with (
            connection.transaction(),
            connection.cursor() as cursor,
            cursor.copy(
                "COPY card_events (device_id, device_event_id, pupil_id, card_id, school_id, "
                "kind, occurred_at, received_at, fanned_out_at) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row((*row, at))
        seconds = time.perf_counter() - began
        connection.execute(
            "DELETE FROM card_events WHERE device_event_id LIKE %s", (f"{RUN_TAG}copy%",)
        )
    return {
        "events": len(rows),
        "seconds": round(seconds, 2),
        "events_per_second": round(len(rows) / seconds) if seconds else 0,
    }


# --- 2. the morning peak with the worker beside -------------------------------------


@contextlib.contextmanager
def worker(
    database_url: str, fan_out_workers: int = 1, skip_jobs: Sequence[str] = ()
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``infocity worker`` on ``database_url`` as in production: ``fan_out_workers``
    processes for the prompt jobs (the fan-out) alone and one for the rest; with 0, one
    process runs everything. ``skip_jobs``: patterns of jobs no process here runs (as
    where the cameras' checks run on a machine of their own)."""
    environment = {
        **os.environ,
        "INFOCITY_DATABASE_URL": database_url,
        "INFOCITY_ENVIRONMENT": "production",
        "INFOCITY_SECRET_KEY": secrets.token_hex(32),
        "INFOCITY_WEBHOOK_SECRET": secrets.token_hex(32),
        "INFOCITY_SECURE_COOKIES": "true",
        "INFOCITY_WORKER_METRICS_PORT": "0",
    }
    command = [sys.executable, "-m", "infocity", "worker"]
    command += [argument for job in skip_jobs for argument in ("--skip-job", job)]
    commands = [command] if fan_out_workers == 0 else [
        *([*command, "--only", "prompt"] for _ in range(fan_out_workers)),
        [*command, "--only", "delivery", "--only", "jobs"],
    ]  # fmt: skip
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe that could fill
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for each in commands:
            processes.append(subprocess.Popen(
                each, env=environment, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


class InboxWatch(threading.Thread):
    """Notes the moment each new card-entry inbox row is first seen (every ``every`` s)."""

    def __init__(self, city: City, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.city = city
        self.every = every
        self.seen: list[tuple[int, float]] = []  # (pupil id, first seen at in epoch seconds)
        self.stopping = threading.Event()
        with city.connect() as connection:
            row = connection.execute("SELECT coalesce(max(id), 0) FROM inbox_messages").fetchone()
        self.last = int(row[0]) if row else 0

    def run(self) -> None:
        with self.city.connect() as connection:
            while not self.stopping.wait(self.every):
                rows = connection.execute(
                    "SELECT id, link FROM inbox_messages WHERE id > %s AND kind = 'cards_entry' "
                    "ORDER BY id",
                    (self.last,),
                ).fetchall()
                now = time.time()
                for inbox_id, link in rows:
                    self.last = max(self.last, inbox_id)
                    self.seen.append((int(str(link).rsplit("/", 1)[1]), now))


async def _paced(
    base_url: str, batches: list[tuple[str, list[Card]]], rate: float, tag: str,
    connections: int, sent: dict[int, float],
) -> list[Result]:  # fmt: skip
    """Each batch sent at its moment (the events before it ÷ ``rate``: at F = 1 most of a
    turnstile's batches hold a few passes, not a full batch), its events stamped with the
    time they leave; ``connections`` at most in flight."""
    results: list[Result] = []
    began = time.perf_counter() + 0.2
    queue: asyncio.Queue[tuple[int, str, list[Card]]] = asyncio.Queue()
    before = 0
    for key, cards in batches:
        queue.put_nowait((before, key, cards))
        before += len(cards)

    async def client() -> None:
        connection = Connection(base_url)
        try:
            while not queue.empty():
                before, key, cards = queue.get_nowait()
                delay = began + before / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                stamp = time.time()
                at = datetime.fromtimestamp(stamp, UTC)
                for card in cards:
                    sent[card.pupil_id] = stamp
                request = _post(key, [_event(card, tag, "entry", at) for card in cards])
                started = time.perf_counter()
                try:
                    status, body = await connection.send(request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    status, body = 0, str(exc).encode()
                    await connection.close()
                results.append(
                    Result(request, status, body, started, time.perf_counter() - started)
                )
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return results


def peak(
    city: City, base_url: str, devices: Devices, cards: list[Card], *, rate: float,
    duration: float, size: int, settle: float, fan_out_workers: int = 1,
    skip_jobs: Sequence[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """Entries at ``rate`` a second for ``duration`` s, the worker running (its prompt
    jobs in ``fan_out_workers`` processes of their own, see ``worker``); the latency from
    each event to each of its parents' inbox rows."""
    count = min(len(cards), round(rate * duration))
    chosen = random.Random(2).sample(cards, count)
    batches: list[tuple[str, list[Card]]] = []
    by_device: dict[int, tuple[str, list[Card]]] = {}
    for n, card in enumerate(chosen):
        gates = devices.turnstiles[card.school_id]
        device_id, key = gates[n % len(gates)]
        key_cards = by_device.setdefault(device_id, (key, []))
        key_cards[1].append(card)
        if len(key_cards[1]) == size:
            batches.append(by_device.pop(device_id))
    batches += list(by_device.values())
    with city.connect() as connection:
        # The ingest's events are not what the peak measures: the worker starts afresh.
        connection.execute(
            "UPDATE card_events SET fanned_out_at = now() WHERE fanned_out_at IS NULL"
        )
        expected_row = connection.execute(
            "SELECT count(*) FROM card_representatives WHERE notify_passes AND pupil_id = ANY(%s)",
            ([c.pupil_id for c in chosen],),
        ).fetchone()
    expected = int(expected_row[0]) if expected_row else 0
    sent: dict[int, float] = {}
    peak_began = datetime.now(UTC)
    watch = InboxWatch(city)
    with worker(city.url, fan_out_workers, skip_jobs):
        warm_up = _worker_caught_up(city, peak_began)
        watch.start()
        began = time.perf_counter()
        results = asyncio.run(_paced(base_url, batches, rate, "peak", 32, sent))
        offered_for = time.perf_counter() - began
        deadline = time.perf_counter() + settle
        while len(watch.seen) < expected and time.perf_counter() < deadline:
            time.sleep(0.2)
        watch.stopping.set()
        watch.join()
        # Where what did not land waits: events the fan-out has not told yet, or inbox
        # messages queued and not yet delivered.
        with city.connect() as connection:
            backlog = connection.execute(
                "SELECT (SELECT count(*) FROM card_events WHERE fanned_out_at IS NULL "
                "AND device_event_id LIKE %s), (SELECT count(*) FROM outbox_messages WHERE "
                "kind = 'cards_entry' AND channel = 'inbox' AND status <> 'sent' "
                "AND created_at >= %s)",
                (f"{RUN_TAG}peak-%", peak_began),
            ).fetchone()
    latencies = [seen - sent[pupil] for pupil, seen in watch.seen if pupil in sent]
    accepted = sum(int(r.json()["accepted"]) for r in results if r.status == 200)
    return {
        "fan_out_workers": fan_out_workers,
        "skipped_jobs": list(skip_jobs),
        "worker_warm_up_s": warm_up,
        "events_offered": count,
        "offered_rate": rate,
        "achieved_rate": round(accepted / offered_for) if offered_for else 0,
        "batch_size": size,
        "accepted": accepted,
        "errors": sum(1 for r in results if r.status != 200),
        "batch_latency_ms": _latency([r.seconds * 1000 for r in results]),
        "notices_expected": expected,
        "inbox_rows_seen": len(watch.seen),
        "within_settle_s": settle,
        "left_untold_events": int(backlog[0]) if backlog else 0,
        "left_queued_inbox_messages": int(backlog[1]) if backlog else 0,
        "latency_s": {
            "p50": round(percentile(latencies, 0.50), 2),
            "p95": round(percentile(latencies, 0.95), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "max": round(max(latencies), 2) if latencies else 0.0,
        },
    }


def _worker_caught_up(city: City, since: datetime, limit: float = 900.0) -> float:
    """Wait until the worker's fan-out has run once since ``since``: the worker is up and
    telling.

    The first round of the other jobs is not waited for: on a fresh city
    ``health.materialise_slots`` runs for minutes, and the fan-out, a prompt job in a
    thread of its own, tells parents meanwhile; the peak meets the worker as production
    would after a restart. On a city whose first round ran already it is quieter."""
    began = time.perf_counter()
    with city.connect() as connection:
        while time.perf_counter() - began < limit:
            row = connection.execute(
                "SELECT last_finished_at >= %s FROM periodic_jobs WHERE name = 'cards.fan_out'",
                (since,),
            ).fetchone()
            if row is not None and row[0]:
                break
            time.sleep(0.2)
    return round(time.perf_counter() - began, 1)


# --- 3. tills, 4. validators ----------------------------------------------------------


def _chosen_tills(
    devices: Devices, count: int, rng: random.Random
) -> tuple[list[tuple[int, int, str]], dict[int, list[Card]]]:
    """``count`` tills of schools with pupils, and each school's cards."""
    by_school: dict[int, list[Card]] = {}
    for card in devices.cards:
        by_school.setdefault(card.school_id, []).append(card)
    chosen = [t for t in devices.tills if t[0] in by_school]
    return rng.sample(chosen, min(count, len(chosen))), by_school


def _ask(key: str, card: Card, request_id: str) -> Request:
    return Request(
        "POST", AUTHORIZE_PATH,
        {"request_id": f"{RUN_TAG}{request_id}", "uid": card.uid, "amount": 5_000,
         "items": LUNCH},
        headers=(("X-Device-Key", key),),
    )  # fmt: skip


def _answers(results: list[Result]) -> dict[str, int]:
    return dict(Counter(
        ("approved" if r.json()["approved"] else r.json()["reason"]) if r.status == 200 else
        str(r.status) for r in results
    ))  # fmt: skip


def tills(
    base_url: str, devices: Devices, *, count: int, duration: float, interval: tuple[float, float],
    seed: int,
) -> dict[str, Any]:  # fmt: skip
    """``count`` tills at a till's pace: each asks for a pupil of its school at random
    intervals (uniform within ``interval`` seconds: a sale every 10-20 s at the busiest),
    for ``duration`` s. Open loop: the asks are scheduled beforehand and each is timed
    from its scheduled moment, so a queue at the server shows in the latency instead of
    slowing the tills down."""
    rng = random.Random(f"tills:{seed}")
    chosen, by_school = _chosen_tills(devices, count, rng)
    low, high = interval
    schedules: list[list[tuple[float, Request]]] = []
    asked = 0
    for school, _device_id, key in chosen:
        schedule = []
        # The first ask anywhere in a first interval: the tills are not in step.
        moment = rng.uniform(0, high)
        while moment < duration:
            schedule.append((moment, _ask(key, rng.choice(by_school[school]), f"pace-{asked}")))
            asked += 1
            moment += rng.uniform(low, high)
        schedules.append(schedule)
    results, elapsed = asyncio.run(drive_schedules(base_url, schedules))
    ok = [r.seconds * 1000 for r in results if r.status == 200]
    return {
        "tills": len(chosen),
        "interval_s": [low, high],
        "asks": len(results),
        "seconds": round(elapsed, 2),
        "asks_per_second": round(len(results) / elapsed, 1) if elapsed else 0,
        "answers": _answers(results),
        "errors": sum(1 for r in results if r.status != 200),
        "latency_ms": {**_latency(ok), "max": round(max(ok), 1) if ok else 0.0},
    }


def tills_closed_loop(
    base_url: str, devices: Devices, *, count: int, duration: float, seed: int
) -> dict[str, Any]:
    """``count`` tills asking at once, each again as soon as answered (closed loop): the
    capacity, in asks a second; its latency is the queue (``count`` / the rate)."""
    rng = random.Random(f"tills:{seed}")
    chosen, by_school = _chosen_tills(devices, count, rng)
    asked = iter(range(10**9))

    def next_request(client: int) -> Request:
        school, _device_id, key = chosen[client]
        return _ask(key, rng.choice(by_school[school]), f"till-{next(asked)}")

    results, elapsed = asyncio.run(drive(base_url, len(chosen), next_request, duration=duration))
    ok = [r.seconds * 1000 for r in results if r.status == 200]
    return {
        "tills": len(chosen),
        "asks": len(results),
        "seconds": round(elapsed, 2),
        "asks_per_second": round(len(results) / elapsed) if elapsed else 0,
        "answers": _answers(results),
        "errors": sum(1 for r in results if r.status != 200),
        "latency_ms": _latency(ok),
    }


def eligibility(
    base_url: str, devices: Devices, *, clients: int, duration: float, seed: int, bare: bool
) -> dict[str, Any]:
    """Validators asking about random social cards (``bare``: ``/healthz`` instead)."""
    rng = random.Random(f"eligibility:{seed}")

    def next_request(client: int) -> Request:
        if bare:
            return Request("GET", "/healthz")
        key = devices.validators[client % len(devices.validators)]
        uid = rng.choice(devices.social_uids)
        return Request("GET", ELIGIBILITY_PATH + uid, headers=(("X-Device-Key", key),))

    results, elapsed = asyncio.run(drive(base_url, clients, next_request, duration=duration))
    ok = [r for r in results if r.status == 200]
    return {
        "requests": len(results),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(results) / elapsed) if elapsed else 0,
        "errors": len(results) - len(ok),
        "latency_ms": _latency([r.seconds * 1000 for r in ok]),
    }


def clean_up(city: City, since: datetime) -> None:
    """Take back what the run wrote: its events, holds (and what they held), notices, and
    the card messages queued since it began."""
    tagged = f"{RUN_TAG}%"
    with city.connect() as connection:
        connection.execute(
            "DELETE FROM card_notices WHERE event_id IN "
            "(SELECT id FROM card_events WHERE device_event_id LIKE %s "
            "OR device_event_id LIKE %s)",
            (tagged, f"auth:{tagged}"),
        )
        connection.execute(
            "DELETE FROM card_events WHERE device_event_id LIKE %s OR device_event_id LIKE %s",
            (tagged, f"auth:{tagged}"),
        )
        # What the holds still hold goes back (the worker gave back those that expired).
        connection.execute(
            "UPDATE card_pupils p SET held = p.held - h.held FROM (SELECT pupil_id, "
            "sum(amount) AS held FROM card_holds WHERE request_id LIKE %s AND state = 'held' "
            "GROUP BY pupil_id) h WHERE h.pupil_id = p.id",
            (tagged,),
        )
        connection.execute("DELETE FROM card_holds WHERE request_id LIKE %s", (tagged,))
        connection.execute(
            "DELETE FROM inbox_messages WHERE outbox_id IN (SELECT id FROM outbox_messages "
            "WHERE kind LIKE 'cards_%%' AND created_at >= %s)",
            (since,),
        )
        connection.execute(
            "DELETE FROM outbox_messages WHERE kind LIKE 'cards_%%' AND created_at >= %s",
            (since,),
        )


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 1),
        "p95": round(percentile(values, 0.95), 1),
        "p99": round(percentile(values, 0.99), 1),
    }


PHASES = ("ingest", "fan_out", "tills", "eligibility")


def run(
    city: City, *, serve: Any, rounds: int, batch: int, clients: int, peak_rate: float,
    peak_duration: float, tills_at_once: int, duration: float, seed: int,
    fan_out_workers: int = 1, till_duration: float = 240.0,
    till_interval: tuple[float, float] = (10.0, 20.0), only: Collection[str] = PHASES,
    skip_jobs: Sequence[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """The measurements of the scenario named in ``only`` (all by default) on ``city``;
    ``serve`` is ``bench.env.serve``."""
    unknown = set(only) - set(PHASES)
    if unknown:
        raise ValueError(f"no such phase: {', '.join(sorted(unknown))}")
    since = datetime.now(UTC)
    devices = load_devices(city)
    cards = devices.cards
    figures: dict[str, Any] = {"pupils_with_cards": len(cards), "phases": list(only)}
    try:
        with serve(city.url, processes=2) as (base_url, server):
            if "ingest" in only:
                # The servers' CPU seconds: a steadier figure than the rate on a busy machine.
                with process_spread(server, base_url) as spread:
                    figures["ingest"] = ingest(
                        base_url, devices, cards, rounds=rounds, size=batch, clients=clients
                    )
                cpu = sum(p["cpu_seconds"] for p in spread.get("processes", []))
                figures["ingest"]["server_cpu_seconds"] = round(cpu, 2)
                figures["ingest"]["server_cpu_ms_per_100_events"] = (
                    round(100_000 * cpu / figures["ingest"]["accepted"], 2)
                    if figures["ingest"]["accepted"] else None
                )  # fmt: skip
            if "fan_out" in only:
                figures["fan_out"] = peak(
                    city, base_url, devices, cards, rate=peak_rate, duration=peak_duration,
                    size=20, settle=max(30.0, peak_duration), fan_out_workers=fan_out_workers,
                    skip_jobs=skip_jobs,
                )  # fmt: skip
            if "tills" in only:
                figures["tills"] = tills(
                    base_url, devices, count=tills_at_once, duration=till_duration,
                    interval=till_interval, seed=seed,
                )  # fmt: skip
                figures["tills_closed_loop"] = tills_closed_loop(
                    base_url, devices, count=tills_at_once, duration=duration, seed=seed
                )
            if "eligibility" in only:
                figures["eligibility"] = eligibility(
                    base_url, devices, clients=64, duration=duration, seed=seed, bare=False
                )
                figures["bare_endpoint"] = eligibility(
                    base_url, devices, clients=64, duration=duration, seed=seed, bare=True
                )
        if "ingest" in only:
            figures["bare_copy"] = bare_copy(city, devices, cards, rounds=rounds)
    finally:
        clean_up(city, since)
    if "ingest" in only:
        copy_rate = figures["bare_copy"]["events_per_second"]
        figures["ingest_over_bare_copy"] = (
            round(figures["ingest"]["events_per_second"] / copy_rate, 3) if copy_rate else None
        )
    if "eligibility" in only:
        bare_rate = figures["bare_endpoint"]["requests_per_second"]
        figures["eligibility_over_bare_endpoint"] = (
            round(figures["eligibility"]["requests_per_second"] / bare_rate, 3)
            if bare_rate else None
        )  # fmt: skip
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """The terminal table: each figure of the phases run beside its aim."""
    table: list[tuple[str, Any]] = []
    if "ingest" in figures:
        ingest, copy = figures["ingest"], figures["bare_copy"]
        table += [
            ("ingest events / s (aim 20,000)", ingest["events_per_second"]),
            ("  accepted / refused / errors",
             f"{ingest['accepted']} / {ingest['refused']} / {ingest['errors']}"),
            ("  batch p50 / p99 ms",
             f"{ingest['batch_latency_ms']['p50']} / {ingest['batch_latency_ms']['p99']}"),
            ("  server processes' CPU ms / 100 events", ingest.get("server_cpu_ms_per_100_events")),
            ("bare COPY events / s (the limit)", copy["events_per_second"]),
            ("ingest / bare COPY", figures["ingest_over_bare_copy"]),
        ]  # fmt: skip
    if "fan_out" in figures:
        fan = figures["fan_out"]
        lat = fan["latency_s"]
        table += [
            ("fan-out worker processes (0: one worker for all)", fan.get("fan_out_workers", 0)),
            ("peak offered / achieved events / s",
             f"{fan['offered_rate']:g} / {fan['achieved_rate']}"),
            ("inbox rows seen / expected", f"{fan['inbox_rows_seen']} / {fan['notices_expected']}"),
            ("event -> inbox p50 / p99 s (aim p99 < 5)", f"{lat['p50']} / {lat['p99']}"),
            ("  left at the end: events untold / inbox messages queued",
             f"{fan['left_untold_events']} / {fan['left_queued_inbox_messages']}"),
        ]  # fmt: skip
    if "tills" in figures:
        till, closed = figures["tills"], figures["tills_closed_loop"]
        pace, queue = till["latency_ms"], closed["latency_ms"]
        low, high = till["interval_s"]
        table += [
            (f"tills at a till's pace: {till['tills']} tills, each every {low:g}-{high:g} s, "
             "p50 / p95 / p99 / max ms (aim p99 < 20)",
             f"{pace['p50']} / {pace['p95']} / {pace['p99']} / {pace['max']}"),
            ("  asks, asks / s, answers",
             f"{till['asks']}, {till['asks_per_second']}, {till['answers']}"),
            (f"tills closed loop: {closed['tills']} at once, asks / s (the capacity)",
             closed["asks_per_second"]),
            ("  p50 / p99 ms (the queue), answers",
             f"{queue['p50']} / {queue['p99']}, {closed['answers']}"),
        ]  # fmt: skip
    if "eligibility" in figures:
        valid, bare = figures["eligibility"], figures["bare_endpoint"]
        table += [
            ("eligibility requests / s", valid["requests_per_second"]),
            ("bare endpoint (/healthz) requests / s", bare["requests_per_second"]),
            ("eligibility / bare endpoint", figures["eligibility_over_bare_endpoint"]),
            ("errors (eligibility, bare)", f"{valid['errors']}, {bare['errors']}"),
        ]
    return table
