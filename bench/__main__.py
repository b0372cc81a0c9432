"""``python -m bench [rush|search|slots|year|payments|exams|allocation|cards|fan-out|wifi|
fhir|all]`` (``make bench``: ``all``).

Each scenario starts a throwaway PostgreSQL cluster (or uses ``--database-url``), loads
the synthetic city, serves the app with ``infocity serve --workers 2`` on 127.0.0.1,
prints a table and writes ``bench/results/<scenario>-F<scale>.json``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from bench import allocation as allocation_scenario
from bench import cards as cards_scenario
from bench import exams as exams_scenario
from bench import fhir as fhir_scenario
from bench import payments as payments_scenario
from bench import rush as rush_scenario
from bench import search as search_scenario
from bench import slots as slots_scenario
from bench import video as video_scenario
from bench.env import (
    RESULTS,
    ROOT,
    City,
    city_database,
    process_spread,
    serve,
    table,
    write_result,
)

app = typer.Typer(help="InfoCity benchmarks.", invoke_without_command=True)

YEAR_BOOKINGS = 61_000_000  # appointments a year (the programme's 2014 report)
PEAK_FACTOR = 10
SECONDS_A_YEAR = 365 * 24 * 3600
WORKING_SECONDS_A_YEAR = 250 * 12 * 3600  # 250 working days, 08:00-20:00

Scale = typer.Option(0.1, help="Scale of the synthetic city (1 = the whole city).")
Seed = typer.Option(1, help="Seed of the synthetic city and of the demand.")
DatabaseUrl = typer.Option(None, help="Use this PostgreSQL database instead of a throwaway one.")
Out = typer.Option(RESULTS, help="Directory for the JSON results.")


def _name(scenario: str, scale: float) -> str:
    return f"{scenario}-F{scale:g}"


def _profile_summary(raw: Path, top: int = 30) -> str:
    """Where the server processes spent their time, from py-spy's collapsed stacks."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    callers: defaultdict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        self_time[frames[-1]] += count
        callers[frames[-1]][tuple(frames[-4:-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"py-spy samples: {total}", "", "Inclusive (a frame anywhere on the stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top * 2)]
    lines += ["", "Self (the frame running):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in self_time.most_common(top)]
    lines += ["", "Who calls the busiest frames (the three frames above each):"]
    for frame, _ in self_time.most_common(top // 3):
        lines += [f"  {frame}"]
        lines += [
            f"  {100 * n / total:5.1f}%    <- {' <- '.join(reversed(chain))}"
            for chain, n in callers[frame].most_common(3)
        ]
    # Paths relative to the checkout: the summary is committed and read anywhere.
    return "\n".join(lines).replace(f"{ROOT}/", "") + "\n"


@contextlib.contextmanager
def _profiler(pid: int, seconds: float, enabled: bool) -> Any:
    """py-spy recording every server process for ``seconds`` (when enabled and found)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not enabled or not Path(spy).exists():
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    raw = directory / "stacks.txt"
    process = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking",
         "--rate", "100", "--duration", str(max(1, int(seconds))), "--format", "raw",
         "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield raw
    finally:
        try:
            process.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            process.kill()


def do_rush(
    city: City,
    *,
    slots: int,
    clients: int,
    duration: float,
    pgbench_clients: int,
    seed: int,
    profile: bool,
    out: Path,
    hot_share: float = 0.2,
    hot_demand: float = 0.8,
    gnuhealth: Path | None = None,
) -> dict[str, Any]:
    """Scenarios 1 and 2: the rush through the API, then pgbench on the same slots;
    ``gnuhealth``: GNU Health's home, to drive it with the same demand afterwards."""

    def rush_through(
        base_url: str, release: rush_scenario.Release, on_release: Callable[[], Any] = list
    ) -> tuple[list[Any], float, float | None]:
        def release_slots() -> None:
            rush_scenario.release_now(city, release)
            on_release()

        return rush_scenario.api_run(
            base_url, release, clients=clients, duration=duration,
            hot_share=hot_share, hot_demand=hot_demand, seed=seed,
            release_slots=release_slots,
        )  # fmt: skip

    release = rush_scenario.prepare_release(city, slots, patients_per_clinic=60_000, seed=seed)
    with (
        serve(city.url, processes=2, env={"INFOCITY_BOOKING_BATCH_WINDOW_MS": "2"}) as (
            base_url,
            server,
        ),
        contextlib.ExitStack() as profiling,
        process_spread(server, base_url) as spread,
    ):
        # Recorded from the release on: the start-up and the warm-up are not the rush.
        recordings: list[Path | None] = []
        results, elapsed, all_gone = rush_through(
            base_url,
            release,
            lambda: recordings.append(
                profiling.enter_context(_profiler(server.pid, duration + 5, profile))
            ),
        )
    raw = recordings[0] if recordings else None
    api = rush_scenario.summarise(results, elapsed) | {"spread": spread}
    api["all_slots_booked_after_s"] = round(all_gone, 2) if all_gone else None
    database = rush_scenario.check_database(city, release, results)
    attempts = max(api["requests"], 1)
    limits: dict[str, Any] = {}
    for variant, script in (
        ("core_statement", rush_scenario.CORE_SCRIPT),
        ("full_transaction", rush_scenario.FULL_SCRIPT),
    ):
        rush_scenario.reset(city, release)
        rush_scenario.prepare_pgbench(city, release, patients=attempts + pgbench_clients * 2)
        limits[variant] = rush_scenario.run_pgbench(
            city, release, script, attempts=attempts, clients=pgbench_clients,
            hot_share=hot_share, hot_demand=hot_demand, seed=seed,
        )  # fmt: skip
    # The same demand, patients drawn afresh, against: the API booking each request alone
    # (group commit off), the plainest route of the stack (the ceiling), and the same
    # route with group commit.
    others: dict[str, Any] = {}
    for variant, app_name, env in (
        ("api_alone", None, {"INFOCITY_BOOKING_BATCH_WINDOW_MS": "0"}),
        ("stack_ceiling", "bench.ceiling:app", {}),
        ("ceiling_group_commit", "bench.ceiling:app", {"BENCH_GROUP_COMMIT_MS": "2"}),
    ):
        rush_scenario.reset(city, release)
        again = rush_scenario.prepare_release(city, slots, patients_per_clinic=60_000, seed=seed)
        with (
            serve(city.url, processes=2, asgi_app=app_name, env=env) as (base_url, server),
            process_spread(server, base_url) as spread,
        ):
            results, elapsed, _ = rush_through(base_url, again)
        others[variant] = rush_scenario.summarise(results, elapsed) | {"spread": spread}
        others[variant]["database"] = rush_scenario.check_database(city, again, results)
        rush_scenario.reset(city, again)  # leave the city as it was loaded
    core = limits["core_statement"]["transactions_per_second"]
    full = limits["full_transaction"]["transactions_per_second"]
    top = others["stack_ceiling"]["requests_per_second"]

    def over_full(rate: float) -> float | None:
        return round(rate / full, 3) if full else None

    figures = {
        "scale": city.scale,
        "specialty": rush_scenario.SPECIALTY,
        "day": release.day.isoformat(),
        "slots_released": len(release.slot_ids),
        "clients": clients,
        "server_processes": 2,
        "demand": f"{hot_demand:.0%} of requests on {hot_share:.0%} of the slots",
        "api": api,
        "database": database,
        "pgbench": limits,
        "api_over_pgbench": round(api["requests_per_second"] / core, 3) if core else None,
        "api_over_pgbench_full_transaction": over_full(api["requests_per_second"]),
        **others,
        "over_pgbench_full_transaction": {
            name: over_full(run["requests_per_second"]) for name, run in others.items()
        },
        "api_over_ceiling": round(api["requests_per_second"] / top, 3) if top else None,
        "load": city.load,
    }
    if gnuhealth is not None:
        from bench import gnuhealth as gnuhealth_scenario  # only when asked for

        figures["gnuhealth"] = gnuhealth_scenario.run(
            city.url, home=gnuhealth, slots=len(release.slot_ids), clients=clients,
            duration=duration, hot_share=hot_share, hot_demand=hot_demand, seed=seed,
            patients=gnuhealth_scenario.PATIENTS, day=f"{release.day.isoformat()}T08:00:00",
            infocity=api,
        )  # fmt: skip
    name = _name("rush", city.scale) + ("" if clients == 200 else f"-{clients}-clients")
    path = write_result(name, figures, out)
    if raw is not None and raw.exists():
        (out / f"{name}-profile.txt").write_text(_profile_summary(raw))
    if raw is not None:
        shutil.rmtree(raw.parent, ignore_errors=True)
    latency = api["latency_ms"]
    print(
        table(
            f"Booking rush (scale {city.scale:g}, {len(release.slot_ids):,} slots, "
            f"{clients} clients, 2 processes)",
            [
                ("requests / s", api["requests_per_second"]),
                ("bookings / s", api["bookings_per_second"]),
                ("bookings", api["bookings"]),
                ("all slots booked after (s)", api["all_slots_booked_after_s"] or "-"),
                (
                    "latency p50 / p95 / p99 (ms)",
                    f"{latency['p50']} / {latency['p95']} / {latency['p99']}",
                ),
                ("conflicts (409 slot_taken)", api["conflicts"]),
                (
                    "other refusals",
                    {k: v for k, v in api["refusals"].items() if k != "slot_taken"} or "-",
                ),
                ("errors (5xx, transport)", api["errors"]),
                ("double bookings (database)", database["double_bookings"]),
                ("pgbench core statement tps", core),
                ("pgbench full transaction tps", full),
                ("API / pgbench core", figures["api_over_pgbench"]),
                ("API / pgbench full transaction", figures["api_over_pgbench_full_transaction"]),
                *(
                    (
                        f"{variant.replace('_', ' ')}: requests / s, ÷ pgbench full, p99 ms",
                        f"{run['requests_per_second']}, {over_full(run['requests_per_second'])}, "
                        f"{run['latency_ms']['p99']}",
                    )
                    for variant, run in others.items()
                ),
                ("API / ceiling", figures["api_over_ceiling"]),
                (
                    "API per process: CPU s (connections)",
                    ", ".join(
                        f"{p['cpu_seconds']} ({p['connections']})"
                        for p in api["spread"].get("processes", [])
                    )
                    or "-",
                ),
            ],
        )
    )
    if gnuhealth is not None:
        print(table("GNU Health, the same demand", gnuhealth_scenario.rows(figures["gnuhealth"])))
    print(f"  -> {path}")
    return figures


def do_search(city: City, *, requests: int, clients: int, seed: int, out: Path) -> dict[str, Any]:
    """Scenario 3: the two searches, API and SQL latency."""
    with serve(city.url, processes=2) as (base_url, _server):
        figures = search_scenario.run_search(
            base_url, city, requests=requests, clients=clients, seed=seed
        )
    payload = {"scale": city.scale, "clients": clients, "server_processes": 2, **figures}
    path = write_result(_name("search", city.scale), payload, out)
    rows: list[tuple[str, Any]] = []
    for kind, label in (
        ("first_slots", "first free slots, 14 days"),
        ("doctor_day", "doctor's day"),
    ):
        f = figures[kind]
        rows += [
            (f"{label}: API p50 / p95 / p99 ms",
             f"{f['api_ms']['p50']} / {f['api_ms']['p95']} / {f['api_ms']['p99']}"),
            (f"{label}: SQL p50 / p95 ms", f"{f['sql_ms']['p50']} / {f['sql_ms']['p95']}"),
            (f"{label}: requests / s, errors", f"{f['requests_per_second']}, {f['errors']}"),
        ]  # fmt: skip
    print(table(f"Slot search (scale {city.scale:g}, {clients} client(s))", rows))
    print(f"  -> {path}")
    return payload


def do_year(city: City, *, clients: int, duration: float, seed: int, out: Path) -> dict[str, Any]:
    """Scenario 4: the rate a year of the city needs, beside a sustained measured rate
    (uniform demand over another day's slots, so conflicts are rare)."""
    release = rush_scenario.prepare_release(
        city, 1_000_000, patients_per_clinic=60_000, seed=seed, day_rank=1
    )
    with serve(city.url, processes=2) as (base_url, _server):
        results, elapsed, _ = rush_scenario.api_run(
            base_url, release, clients=clients, duration=duration,
            hot_share=1.0, hot_demand=1.0, seed=seed,
            release_slots=lambda: rush_scenario.release_now(city, release),
        )  # fmt: skip
    api = rush_scenario.summarise(results, elapsed)
    database = rush_scenario.check_database(city, release, results)
    average = YEAR_BOOKINGS / SECONDS_A_YEAR
    working = YEAR_BOOKINGS / WORKING_SECONDS_A_YEAR
    capacity = api["bookings_per_second"]
    payload = {
        "scale": city.scale,
        "bookings_a_year": YEAR_BOOKINGS,
        "peak_factor": PEAK_FACTOR,
        "needed_per_second": {
            "average_over_the_year": round(average, 2),
            "peak": round(average * PEAK_FACTOR, 1),
            "average_over_working_hours": round(working, 2),
            "peak_over_working_hours": round(working * PEAK_FACTOR, 1),
        },
        "measured": {"clients": clients, "server_processes": 2, **api, "database": database},
        "headroom": round(capacity / (working * PEAK_FACTOR), 1) if capacity else 0.0,
    }
    path = write_result(_name("year", city.scale), payload, out)
    need: dict[str, float] = payload["needed_per_second"]  # type: ignore[assignment]
    print(
        table(
            "A year of the city (61 million bookings, peak factor 10)",
            [
                ("needed: average over the year / s", need["average_over_the_year"]),
                ("needed: peak (10x) / s", need["peak"]),
                ("needed: peak over working hours / s", need["peak_over_working_hours"]),
                ("measured sustained bookings / s", capacity),
                (
                    "latency p50 / p95 (ms)",
                    f"{api['latency_ms']['p50']} / {api['latency_ms']['p95']}",
                ),
                ("double bookings (database)", database["double_bookings"]),
                ("headroom over the working-hours peak", f"{payload['headroom']}x"),
            ],
        )
    )
    print(f"  -> {path}")
    return payload


def do_payments(url: str, *, rows: int, apartments: int, seed: int, out: Path) -> dict[str, Any]:
    """Scenario 5: a bank's payment file imported all or nothing, beside a bare COPY."""
    figures = payments_scenario.run_payments(url, rows=rows, apartments=apartments, seed=seed)
    path = write_result(f"payments-{rows}", figures, out)
    imported, limit = figures["import"], figures["bare_copy"]
    print(
        table(
            f"Payment file of {rows:,} rows ({figures['file_mib']} MiB, "
            f"{apartments:,} apartments)",
            [
                ("import: seconds", imported["seconds"]),
                ("import: rows / s", imported["rows_per_second"]),
                ("  of which parsing and checking rows: seconds", imported["parse_seconds"]),
                ("same file again (all already imported): seconds", figures["reimport"]["seconds"]),
                ("with one bad row (refused, nothing written): seconds",
                 figures["refused_file"]["seconds"]),
                ("bare COPY of the rows (the limit): seconds", limit["seconds"]),
                ("import / bare COPY", f"{figures['import_over_bare_copy']}x"),
            ],
        )
    )  # fmt: skip
    print(f"  -> {path}")
    return figures


@app.callback()
def main(ctx: typer.Context) -> None:
    """Without a command: run every scenario (``all``) with its defaults."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run_all)


@app.command("rush")
def rush(
    scale: float = Scale,
    slots: int = typer.Option(5000, help="Slots released at once (N)."),
    clients: int = typer.Option(200, help="Concurrent clients (M)."),
    duration: float = typer.Option(30.0, help="At most this many seconds of booking."),
    pgbench_clients: int = typer.Option(16, help="pgbench connections for the limit."),
    profile: bool = typer.Option(False, help="Record the servers with py-spy."),
    gnuhealth: bool = typer.Option(
        False, help="Also GNU Health with the same demand (installs it the first time)."
    ),
    gnuhealth_home: Path = typer.Option(
        ROOT / "bench" / ".gnuhealth", help="GNU Health's environment and cached database."
    ),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """The booking rush at release time, and the same transaction through pgbench."""
    with city_database(scale, seed, database_url=database_url) as city:
        do_rush(
            city, slots=slots, clients=clients, duration=duration,
            pgbench_clients=pgbench_clients, seed=seed, profile=profile, out=out,
            gnuhealth=gnuhealth_home if gnuhealth else None,
        )  # fmt: skip


@app.command("search")
def search(
    scale: float = Scale,
    requests: int = typer.Option(300, help="Requests of each search."),
    clients: int = typer.Option(1, help="Concurrent clients (1: pure latency)."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """Slot search latency: first free slots for a patient, a doctor's day."""
    with city_database(scale, seed, database_url=database_url) as city:
        do_search(city, requests=requests, clients=clients, seed=seed, out=out)


def do_slots(city: City, *, out: Path) -> dict[str, Any]:
    """Section 3: the hourly slot job on the loaded city, in each state it meets."""
    job = slots_scenario.run_slot_job(city)
    payload = {"scale": city.scale, "job": job}
    path = write_result(_name("slots", city.scale), payload, out)
    rows = [
        (f"{state}: added, wall s, CPU s, statements",
         f"{f['slots_added']}, {f['wall_seconds']}, {f['cpu_seconds']}, {f['statements']}")
        for state, f in job.items()
    ]  # fmt: skip
    print(table(f"The hourly slot job (scale {city.scale:g})", rows))
    print(f"  -> {path}")
    return payload


@app.command("slots")
def slots(
    scale: float = Scale, seed: int = Seed, database_url: str | None = DatabaseUrl, out: Path = Out
) -> None:
    """The hourly slot job on a loaded city: no new day, a new day, from nothing."""
    with city_database(scale, seed, database_url=database_url) as city:
        do_slots(city, out=out)


@app.command("year")
def year(
    scale: float = Scale,
    clients: int = typer.Option(50, help="Concurrent clients."),
    duration: float = typer.Option(20.0, help="Seconds of sustained booking."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """The rate 61 million bookings a year need, beside the measured sustained rate."""
    with city_database(scale, seed, database_url=database_url) as city:
        do_year(city, clients=clients, duration=duration, seed=seed, out=out)


@app.command("payments")
def payments(
    rows: int = typer.Option(1_000_000, help="Rows of the bank's file."),
    apartments: int = typer.Option(100_000, help="Apartments the payments go to."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """A bank's payment file imported all or nothing, beside a bare COPY of its rows."""
    with city_database(0.0001, seed, database_url=database_url, quiet=True) as city:
        do_payments(city.url, rows=rows, apartments=apartments, seed=seed, out=out)


def do_exams(
    city: City, *, clients: int, duration: float, seed: int, out: Path, profile: bool = False
) -> dict[str, Any]:
    """Results day: look-ups through the API, then through the bare endpoint, on the
    same city, with the same clients and demand. ``profile``: record the API's server
    processes with py-spy (``exams-F<scale>-profile.txt``)."""
    count = exams_scenario.participants(city)
    runs: dict[str, dict[str, Any]] = {}
    for name, asgi_app in (("api", None), ("bare", "bench.exams_bare:app")):
        exams_scenario.clear_counts(city)
        with serve(city.url, processes=2, asgi_app=asgi_app) as (base_url, server):
            # A short warm-up: connections opened, statements prepared.
            exams_scenario.look_ups(base_url, count, clients=clients, duration=min(2.0, duration),
                                    seed=seed, tag=f"{name}-warm-up")  # fmt: skip
            with _profiler(server.pid, duration, profile and name == "api") as raw:
                results, elapsed = exams_scenario.look_ups(
                    base_url, count, clients=clients, duration=duration, seed=seed, tag=name
                )
        if raw is not None and raw.exists():
            (out / f"{_name('exams', city.scale)}-profile.txt").write_text(_profile_summary(raw))
        runs[name] = exams_scenario.summarise(results, elapsed)
    api, bare = runs["api"], runs["bare"]
    ratio = (
        round(api["look_ups_per_second"] / bare["look_ups_per_second"], 3)
        if bare["look_ups_per_second"]
        else None
    )
    figures = {
        "scale": city.scale,
        "participants": count,
        "clients": clients,
        "server_processes": 2,
        "api": api,
        "bare_endpoint": bare,
        "api_over_bare": ratio,
    }
    path = write_result(_name("exams", city.scale), figures, out)
    latency = " / ".join(str(api["latency_ms"][p]) for p in ("p50", "p95", "p99"))
    print(
        table(
            f"Exam results day (scale {city.scale:g}, {count:,} participants, "
            f"{clients} clients, 2 processes)",
            [
                ("API look-ups / s", api["look_ups_per_second"]),
                ("API latency p50 / p95 / p99 (ms)", latency),
                ("API errors", api["errors"]),
                ("bare endpoint look-ups / s", bare["look_ups_per_second"]),
                ("bare endpoint errors", bare["errors"]),
                ("API / bare endpoint", ratio if ratio is not None else "-"),
            ],
        )
    )
    print(f"  -> {path}")
    return figures


@app.command("video")
def video(
    cameras: int = typer.Option(6000, help="--layer-only: cameras to probe."),
    concurrency: int = typer.Option(128, help="--layer-only: fast probes at once."),
    timeout: float = typer.Option(3.0, help="--layer-only: deadline of one fast probe, seconds."),
    frame_sample: int = typer.Option(200, help="Cameras whose frame is read (slow cycle)."),
    frame_concurrency: int = typer.Option(4, help="--layer-only: ffmpeg processes at once."),
    frame_timeout: float = typer.Option(8.0, help="--layer-only: deadline of one frame, seconds."),
    layer_only: bool = typer.Option(False, help="Probe made-up cameras, record nothing."),
    cycles: int = typer.Option(3, help="City: full fast cycles, probed and recorded."),
    scale: float = typer.Option(1.0, help="City: scale of the synthetic city."),
    whole_city: bool = typer.Option(False, help="City: load all of it, not just the schools."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """School cameras: full fast cycles of the synthetic city's cameras, probed and
    recorded, and the frame-check cycle, with their CPU (``--layer-only``: probes alone)."""
    if not layer_only:
        loaded = (
            city_database(scale, seed, database_url=database_url)
            if whole_city or database_url
            else video_scenario.video_city(scale, seed)
        )
        with loaded:
            result = video_scenario.run_city(cycles=cycles, frame_sample=frame_sample)
        typer.echo(table("bench video", [(k, str(v)) for k, v in result.items()]))
        write_result(_name("video", scale), result, out)
        return
    result = video_scenario.run(
        cameras=cameras,
        concurrency=concurrency,
        timeout=timeout,
        frame_sample=frame_sample,
        frame_concurrency=frame_concurrency,
        frame_timeout=frame_timeout,
    )
    typer.echo(table("bench video", [(k, str(v)) for k, v in result.items()]))
    write_result(f"video-{cameras}", result, out)


@app.command("exams")
def exams(
    scale: float = Scale,
    clients: int = typer.Option(64, help="Concurrent clients."),
    duration: float = typer.Option(20.0, help="Seconds of look-ups for each endpoint."),
    profile: bool = typer.Option(False, help="Record the API's servers with py-spy."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """Exam results day: look-ups through the API beside a bare endpoint."""
    with city_database(scale, seed, database_url=database_url) as city:
        do_exams(city, clients=clients, duration=duration, seed=seed, out=out, profile=profile)


def do_allocation(city: City, *, out: Path) -> dict[str, Any]:
    """The city-wide kindergarten allocation through the service layer, checked in the
    database and then undone."""
    figures = {"scale": city.scale, **allocation_scenario.allocate(city)}
    path = write_result(_name("allocation", city.scale), figures, out)
    notices = figures["notices"]
    print(
        table(
            f"Kindergarten allocation (scale {city.scale:g}, run for {figures['run_for']})",
            [
                ("children queued for the day", figures["queued_for_the_day"]),
                ("free places", figures["free_places"]),
                ("offers", figures["offers"]),
                ("preview (s)", figures["preview_seconds"]),
                ("run (s)", figures["run_seconds"]),
                ("of which the matching, each (s)", figures["matching_seconds"]),
                (
                    "parents told by one job run / s",
                    f"{notices['told_in_one_job_run']} / {notices['seconds']}",
                ),
                *figures["database"].items(),
            ],
        )
    )
    print(f"  -> {path}")
    return figures


@app.command("allocation")
def allocation(
    scale: float = Scale,
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """The city-wide kindergarten allocation (preview and run) through the service layer."""
    with city_database(scale, seed, database_url=database_url) as city:
        do_allocation(city, out=out)


@app.command("cards")
def cards(
    scale: float = Scale,
    rounds: int = typer.Option(2, help="Ingest: passes of every card (entry, exit)."),
    batch: int = typer.Option(500, help="Ingest: events a batch (500: the most a batch holds)."),
    clients: int = typer.Option(16, help="Ingest: devices sending at once."),
    peak_rate: float = typer.Option(2000.0, help="Fan-out: entries offered a second."),
    peak_duration: float = typer.Option(20.0, help="Fan-out: seconds of the peak."),
    fan_out_workers: int = typer.Option(
        1,
        min=0,
        help="Fan-out: worker processes for the prompt jobs alone, beside one for "
        "the rest (0: one worker process runs everything).",
    ),
    skip_job: list[str] | None = typer.Option(
        None,
        help="Fan-out: jobs the workers leave to others, repeat for several (e.g. "
        "'safety.*': the cameras' checks on a machine of their own).",
    ),
    tills: int = typer.Option(200, help="Tills: how many (at a till's pace, then at once)."),
    till_interval: str = typer.Option(
        "10,20", help="Tills: seconds between a till's asks, LOW,HIGH (uniform)."
    ),
    till_duration: float = typer.Option(
        240.0, help="Tills at a till's pace: seconds (240 s of 200 tills: about 3,200 asks)."
    ),
    duration: float = typer.Option(15.0, help="Tills closed loop and eligibility: seconds each."),
    only: str = typer.Option(
        ",".join(cards_scenario.PHASES),
        help="Phases to run, a comma list of ingest, fan_out, tills, eligibility.",
    ),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """School cards: ingest vs COPY, the morning fan-out, tills, validators' eligibility."""
    phases = [phase.strip() for phase in only.split(",") if phase.strip()]
    unknown = sorted(set(phases) - set(cards_scenario.PHASES))
    if unknown or not phases:
        raise typer.BadParameter(
            f"phases are {', '.join(cards_scenario.PHASES)}", param_hint="--only"
        )
    try:
        low, high = (float(part) for part in till_interval.split(","))
    except ValueError:
        raise typer.BadParameter("LOW,HIGH in seconds", param_hint="--till-interval") from None
    if not 0 < low <= high:
        raise typer.BadParameter("0 < LOW <= HIGH", param_hint="--till-interval")
    with city_database(scale, seed, database_url=database_url) as city:
        figures = cards_scenario.run(
            city, serve=serve, rounds=rounds, batch=batch, clients=clients,
            peak_rate=peak_rate, peak_duration=peak_duration, tills_at_once=tills,
            duration=duration, seed=seed, fan_out_workers=fan_out_workers,
            till_duration=till_duration, till_interval=(low, high), only=phases,
            skip_jobs=tuple(skip_job or ()),
        )  # fmt: skip
    # A run of some phases does not take the place of the whole scenario's result.
    name = _name("cards", scale)
    if set(phases) != set(cards_scenario.PHASES):
        name += "-" + "-".join(phases)
    path = write_result(name, {"scale": scale, **figures}, out)
    print(table(f"School and social cards (scale {scale:g}, 2 processes)",
                cards_scenario.rows(figures)))  # fmt: skip
    print(f"  -> {path}")


@app.command("fan-out")
def fan_out(
    against: str | None = typer.Option(None, help="A git revision whose fan-out runs in turn."),
    rounds: int = typer.Option(4, help="Rounds of each tree."),
    pupils: int = typer.Option(40, help="Pupils, each with one parent reading Russian."),
    events: int = typer.Option(100, help="Entries and exits of each pupil."),
    english_adults: int = typer.Option(0, help="Trusted adults reading English, each pupil."),
    out: Path = Out,
) -> None:
    """The card events' fan-out alone: CPU seconds an event, against a revision's."""
    from bench import fan_out as fan_out_scenario  # the test builders only when asked for

    figures = fan_out_scenario.run(
        against=against, rounds=rounds, pupils=pupils, events_per_pupil=events,
        english_adults=english_adults,
    )  # fmt: skip
    path = write_result(f"fan-out-{figures['adults_per_pupil']}-adults", figures, out)
    print(table(f"The fan-out of {figures['events']:,} card events",
                fan_out_scenario.rows(figures)))  # fmt: skip
    print(f"  -> {path}")


@app.command("wifi")
def wifi(
    scale: float = typer.Option(1.0, help="Scale of the city's Wi-Fi (1: 3 million a day)."),
    requests: int = typer.Option(40_000, help="Access-Requests sent to each FreeRADIUS."),
    parallel: int = typer.Option(200, help="Requests in flight (radclient -p), each radclient."),
    radclients: int = typer.Option(1, help="radclient processes sending at once."),
    rounds: int = typer.Option(2, help="Interim updates of each metro session."),
    statistics: bool = typer.Option(True, help="Measure the statistics page and roll-up."),
    morning: bool = typer.Option(True, help="Measure the metro's morning of accounting."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """Public Wi-Fi: authorizations through FreeRADIUS on InfoCity's PostgreSQL beside a
    static users file; the metro's morning of accounting, nothing lost."""
    from bench import wifi as wifi_scenario  # FreeRADIUS's helpers only when asked for

    with wifi_scenario.wifi_city(scale, seed, database_url=database_url) as city:
        figures = wifi_scenario.run(
            city, requests=requests, parallel=parallel, rounds=rounds, seed=seed,
            clients=radclients, with_statistics=statistics, with_morning=morning,
        )  # fmt: skip
    path = write_result(_name("wifi", scale), {"scale": scale, "load": city.load, **figures}, out)
    title = f"Public Wi-Fi through FreeRADIUS (scale {scale:g})"
    print(table(title, wifi_scenario.summary(figures)))
    print(f"  -> {path}")


def do_fhir(city: City, *, requests: int, seed: int, out: Path) -> dict[str, Any]:
    """Scenario 11: Slot search through FHIR beside the JSON API; the bulk publication."""
    with serve(city.url, processes=2) as (base_url, _server):
        searches = fhir_scenario.run_searches(base_url, city, requests=requests, seed=seed)
        bulk = fhir_scenario.run_bulk_publish(base_url, city)
    figures = {"scale": city.scale, "clients": 1, "server_processes": 2, **searches, "bulk": bulk}
    path = write_result(_name("fhir", city.scale), figures, out)
    rows = [(f"{kind}: {door} p50 / p95 / p99 ms",
             " / ".join(str(searches[kind][f"{door}_ms"][p]) for p in ("p50", "p95", "p99")))
            for kind in ("first_slots", "doctor_day") for door in ("api", "fhir")]  # fmt: skip
    day = searches["location_day"]
    rows += [("location alone, a day: first / deeper pages p95 ms",
              f"{day['first_page_ms']['p95']} / {day['deeper_pages_ms']['p95']}"),
             *((f"$bulk-publish {k}.ndjson: s, resources", f"{v['seconds']}, {v['resources']:,}")
               for k, v in bulk["files"].items()),
             ("Slot rows straight from SQL: s", bulk["slot_rows_sql_seconds"]),
             *((f"Slot file in process, {k}'s writer: s", v["seconds"])
               for k, v in bulk["slot_writers"].items())]  # fmt: skip
    print(table(f"FHIR (scale {city.scale:g}, one client, 2 processes)", rows))
    print(f"  -> {path}")
    return figures


@app.command("fhir")
def fhir(
    scale: float = Scale,
    requests: int = typer.Option(300, help="Searches of each kind."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """Slot search through FHIR beside the JSON API; the city-wide $bulk-publish files."""
    with city_database(scale, seed, database_url=database_url) as city:
        do_fhir(city, requests=requests, seed=seed, out=out)


@app.command("all")
def run_all(
    scale: float = Scale,
    slots: int = typer.Option(5000, help="Rush: slots released at once."),
    clients: int = typer.Option(200, help="Rush: concurrent clients."),
    duration: float = typer.Option(30.0, help="Rush and year: seconds of booking at most."),
    requests: int = typer.Option(300, help="Search: requests of each search."),
    profile: bool = typer.Option(False, help="Rush: record the servers with py-spy."),
    seed: int = Seed,
    database_url: str | None = DatabaseUrl,
    out: Path = Out,
) -> None:
    """Every scenario on one city."""
    with city_database(scale, seed, database_url=database_url) as city:
        if city.load:
            write_result(_name("load", scale), city.load, out)
        do_search(city, requests=requests, clients=1, seed=seed, out=out)
        do_rush(
            city, slots=slots, clients=clients, duration=duration, pgbench_clients=16,
            seed=seed, profile=profile, out=out,
        )  # fmt: skip
        do_year(city, clients=50, duration=min(duration, 20.0), seed=seed, out=out)
        do_payments(city.url, rows=1_000_000, apartments=100_000, seed=seed, out=out)
        do_exams(city, clients=64, duration=min(duration, 20.0), seed=seed, out=out)
        do_allocation(city, out=out)


if __name__ == "__main__":
    app()
