"""``bench wifi``: the city's Wi-Fi through a real FreeRADIUS (deploy/freeradius) on the
synthetic city's devices and hotspots.

1. Authorizations: ``radclient`` sends Access-Requests (90 % bound devices at a hotspot
   of their network, 10 % unknown MACs) with many in flight, first to FreeRADIUS on
   InfoCity's PostgreSQL (rlm_sql), then — the limit, in the same run — to FreeRADIUS
   answering the same requests from a static ``users`` file (rlm_files), with no
   database at all.
2. The metro's morning: Accounting Starts of 100,000 sessions (times the scale), then
   interim updates of each every 10 minutes; afterwards every session's row is counted
   and checked in ``wifi_sessions`` (nothing lost).
3. The statistics page's call counted live from the sessions, the roll-up job over the
   ended days, and the same call reading the roll-up (the same figures).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import resource
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.env import City, use_database
from tests.support.postgres import throwaway_cluster
from tests.support.radius import CONFIG, RADCLIENT, Radius, running_freeradius

AUTH_AIM = 2_000  # authorizations a second on the 2-core machine
CORES = 2
METRO_MORNING_SESSIONS = 100_000  # at scale 1
INTERIM_SECONDS = 600
UNKNOWN_SHARE = 0.1
BENCH_NAS = "bench-controller"


def _load_wifi(url: str, scale: float, seed: int) -> dict[str, Any]:
    """Migrate ``url`` and load the synthetic city's Wi-Fi part alone (the same rows as in
    the whole city: hotspots, devices, a day of sessions)."""
    from infocity.analytics.loader import load_city as load
    from infocity.analytics.loader import plan_city
    from infocity.analytics.synthetic.wifi import WifiCity
    from infocity.core import migrate

    use_database(url)
    migrate.upgrade(url)
    whole = plan_city(scale, seed)
    part = WifiCity(plan=whole.plan, seed=seed, start=whole.start, tz=whole.tz,
                    specialties=whole.specialties, ids=whole.ids)  # fmt: skip
    print(f"loading the synthetic city's Wi-Fi at scale {scale} ...", flush=True)
    report = load(scale, seed, city=part).as_dict()
    print(f"  {report['total_rows']:,} rows in {report['seconds']} s", flush=True)
    return report


@contextlib.contextmanager
def wifi_city(scale: float, seed: int, *, database_url: str | None = None) -> Iterator[City]:
    """A database with the synthetic city's Wi-Fi: ``database_url`` (its Wi-Fi part loaded
    there when it has no Wi-Fi network yet) or a throwaway cluster."""
    if database_url:
        with psycopg.connect(database_url) as connection:
            exists = connection.execute("SELECT to_regclass('wifi_networks') IS NOT NULL")
            loaded = bool(exists.fetchone()[0]) and bool(  # type: ignore[index]
                connection.execute("SELECT EXISTS (SELECT 1 FROM wifi_networks)").fetchone()[0]  # type: ignore[index]
            )
        report = {} if loaded else _load_wifi(database_url, scale, seed)
        use_database(database_url)
        yield City(database_url, scale, seed, report)
        return
    with throwaway_cluster() as admin:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute('CREATE DATABASE "infocity_bench"')
        url = admin.rsplit("/", 1)[0] + "/infocity_bench"
        yield City(url, scale, seed, _load_wifi(url, scale, seed))


def _prepare(city: City, requests: int, seed: int) -> tuple[str, list[tuple[str, str, bool]]]:
    """A controller at 127.0.0.1 for the bench (its secret), and the requests: (MAC,
    NAS-Identifier, bound?) — bound devices at a hotspot of their own network."""
    secret = secrets.token_hex(16)
    rng = random.Random(f"bench-wifi:{seed}")
    with city.connect() as connection:
        connection.execute("DELETE FROM wifi_access_points WHERE hotspot_id IN "
                           "(SELECT id FROM wifi_hotspots WHERE nas_identifier = %s)",
                           (BENCH_NAS,))  # fmt: skip
        connection.execute("DELETE FROM wifi_hotspots WHERE nas_identifier = %s", (BENCH_NAS,))
        connection.execute(
            "INSERT INTO wifi_hotspots (network_id, name, address, latitude, longitude, ssid, "
            "nas_identifier, nas_address, radius_secret, active, created_at) "
            "SELECT min(id), 'bench', 'bench', 55.75, 37.62, 'BENCH', %s, '127.0.0.1', %s, "
            "true, now() FROM wifi_networks",
            (BENCH_NAS, secret),
        )
        spots: dict[int, list[str]] = {}
        for network_id, nas in connection.execute(
            "SELECT network_id, nas_identifier FROM wifi_hotspots WHERE nas_identifier <> %s",
            (BENCH_NAS,),
        ):
            spots.setdefault(network_id, []).append(nas)
        bound = max(1, round(requests * (1 - UNKNOWN_SHARE)))
        devices = connection.execute(
            "SELECT mac, network_id FROM wifi_devices TABLESAMPLE BERNOULLI (%s) "
            "WHERE expires_at > now() LIMIT %s",
            (_sample_percent(connection, bound), bound),
        ).fetchall()
        if len(devices) < bound:  # a tiny city: every device, drawn again
            everyone = connection.execute(
                "SELECT mac, network_id FROM wifi_devices WHERE expires_at > now()"
            ).fetchall()
            devices = [rng.choice(everyone) for _ in range(bound)]
    picked = [(mac, rng.choice(spots[network]), True) for mac, network in devices]
    all_spots = [nas for names in spots.values() for nas in names]
    for n in range(requests - len(picked)):
        mac = "02-00-5e-" + "-".join(f"{n >> s & 0xFF:02x}" for s in (16, 8, 0))
        picked.append((mac, rng.choice(all_spots), False))
    rng.shuffle(picked)
    return secret, picked


def _sample_percent(connection: Any, wanted: int) -> float:
    total = int(connection.execute("SELECT count(*) FROM wifi_devices").fetchone()[0])
    return min(100.0, 100.0 * wanted * 1.5 / max(total, 1))


def _auth_file(path: Path, picked: list[tuple[str, str, bool]]) -> None:
    path.write_text(
        "".join(
            f'User-Name = "{mac}", User-Password = "{mac}", Calling-Station-Id = "{mac}", '
            f'NAS-Identifier = "{nas}", NAS-Port-Type = Wireless-802.11\n\n'
            for mac, nas, _ in picked
        )
    )


def static_config(directory: Path, secret: str, picked: list[tuple[str, str, bool]]) -> Path:
    """deploy/freeradius with the sql module replaced by rlm_files: the bound devices of
    the run in a ``users`` file, the same replies, the bench's controller as a client."""
    confdir = directory / "static"
    shutil.copytree(CONFIG, confdir)
    (confdir / "mods" / "sql").unlink()
    replies = 'Session-Timeout = 10800, WISPr-Bandwidth-Max-Down = 10000000, ' \
              'WISPr-Bandwidth-Max-Up = 2500000'  # fmt: skip
    users = sorted({mac for mac, _, bound in picked if bound})
    (confdir / "users").write_text(
        "".join(f'"{mac}"\tAuth-Type := Accept\n\t{replies}\n\n' for mac in users)
    )
    (confdir / "mods" / "files").write_text(
        'files {\n\tkey = "%{Calling-Station-Id}"\n\tfilename = ${confdir}/users\n}\n'
    )
    site = confdir / "sites" / "infocity"
    text = site.read_text().replace("\t\tsql\n\t\tif (!ok)", "\t\tfiles\n\t\tif (!ok)")
    text = text.replace("\taccounting {\n\t\tsql\n\t}", "\taccounting {\n\t\tok\n\t}")
    site.write_text(text)
    with (confdir / "radiusd.conf").open("a") as conf:
        conf.write(f"\nclient bench {{\n\tipaddr = 127.0.0.1\n\tsecret = {secret}\n}}\n")
    return confdir


_SUMMARY = re.compile(r"^\s*(Accepted|Rejected|Lost|Success|Failed)\s*:\s*(\d+)", re.M)


def _start_radclient(radius_port: int, kind: str, secret: str, path: Path, parallel: int
                     ) -> subprocess.Popen[str]:  # fmt: skip
    assert RADCLIENT is not None
    return subprocess.Popen(
        [RADCLIENT, "-q", "-s", "-r", "3", "-t", "5", "-p", str(parallel), "-f", str(path),
         f"127.0.0.1:{radius_port}", kind, secret],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _radclient(
    radius_port: int, kind: str, secret: str, path: Path, parallel: int, clients: int = 1
) -> dict[str, Any]:
    """Send every packet of ``path`` with ``parallel`` in flight, split between
    ``clients`` radclient processes running at once (``parallel`` in flight each); counts
    and rate."""
    paths = _split(path, clients)
    began = time.perf_counter()
    running = [_start_radclient(radius_port, kind, secret, part, parallel) for part in paths]
    outputs = [process.communicate()[0] for process in running]
    elapsed = time.perf_counter() - began
    counts: dict[str, int] = {}
    for output in outputs:
        for name, value in _SUMMARY.findall(output):
            counts[name.lower()] = counts.get(name.lower(), 0) + int(value)
    answered = counts.get("accepted", 0) + counts.get("rejected", 0) + counts.get("success", 0)
    return {
        **counts,
        "seconds": round(elapsed, 2),
        "answered_per_second": round(answered / elapsed, 1) if elapsed else 0.0,
    }


def _split(path: Path, parts: int) -> list[Path]:
    """``path``'s packets (separated by blank lines) dealt into ``parts`` files."""
    if parts <= 1:
        return [path]
    packets = [p for p in path.read_text().split("\n\n") if p.strip()]
    paths = []
    for k in range(parts):
        part = path.with_name(f"{path.name}.{k}")
        part.write_text("".join(f"{packet}\n\n" for packet in packets[k::parts]))
        paths.append(part)
    return paths


_TICKS = os.sysconf("SC_CLK_TCK")


def _process_seconds(pid: int) -> float:
    """User and system time of a local process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _processor_seconds(radius_pid: int, database_url: str) -> dict[str, float]:
    """Processor seconds so far of FreeRADIUS, of the finished radclients, and of each of
    the database's other connections (FreeRADIUS's pool: the bench holds none while it
    sends), by ``postgres <pid>``."""
    with psycopg.connect(database_url) as connection:
        backends = [
            pid
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        ]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "freeradius": _process_seconds(radius_pid),
        "radclient": children.ru_utime + children.ru_stime,
        **{f"postgres {pid}": _process_seconds(pid) for pid in backends},
    }


def authorizations(
    radius: Radius, secret: str, path: Path, picked: list[tuple[str, str, bool]], parallel: int,
    database_url: str, clients: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """A warm-up, then every request of ``path``; with the accepts a bound device should
    get, the rejects an unknown one should, and the processor time each request took in
    FreeRADIUS, its PostgreSQL connections (those of ``database_url``) and radclient."""
    _radclient(radius.auth_port, "auth", secret, path.with_suffix(".warm"), parallel, clients)
    before = _processor_seconds(radius.pid, database_url)
    run = _radclient(radius.auth_port, "auth", secret, path, parallel, clients)
    after = _processor_seconds(radius.pid, database_url)
    spent = {name: seconds - before.get(name, 0.0) for name, seconds in after.items()}
    per_request = {
        "freeradius": spent.pop("freeradius"),
        "radclient": spent.pop("radclient"),
        "postgres": sum(spent.values()),  # a connection opened since counts whole
    }
    run["cpu_ms_per_request"] = {
        name: round(seconds * 1000 / len(picked), 3) for name, seconds in per_request.items()
    }
    run["cpu_ms_per_request"]["total"] = round(sum(per_request.values()) * 1000 / len(picked), 3)
    run["expected_accepted"] = sum(1 for _, _, bound in picked if bound)
    run["expected_rejected"] = len(picked) - run["expected_accepted"]
    return run


def _acct_file(path: Path, tag: str, sessions: int, kind: str, at: int, seconds: int) -> None:
    """Packets of ``sessions`` metro sessions: Start (``seconds`` 0) or Interim-Update."""
    lines = []
    for n in range(sessions):
        mac = "3c-22-ff-" + "-".join(f"{n >> s & 0xFF:02x}" for s in (16, 8, 0))
        octets = seconds * (1_000 + n % 5_000)
        lines.append(
            f'Acct-Status-Type = {kind}, Acct-Session-Id = "{tag}-{n:07d}", '
            f'Calling-Station-Id = "{mac}", NAS-Identifier = "{BENCH_NAS}", '
            f"Event-Timestamp = {at + seconds}, Acct-Session-Time = {seconds}, "
            f"Acct-Input-Octets = {octets // 8}, Acct-Output-Octets = {octets}\n\n"
        )
    path.write_text("".join(lines))


def metro_morning(
    city: City, radius: Radius, secret: str, directory: Path, *, sessions: int, rounds: int,
    parallel: int,
) -> dict[str, Any]:  # fmt: skip
    """Starts of ``sessions`` sessions, then ``rounds`` interim updates of each (10
    minutes apart); then every session's row is looked for in wifi_sessions."""
    tag = f"bench-{secrets.token_hex(3)}"
    at = int(time.time()) - INTERIM_SECONDS * rounds
    phases: list[dict[str, Any]] = []
    for k in range(rounds + 1):
        path = directory / f"acct-{k}.txt"
        kind = "Start" if k == 0 else "Interim-Update"
        _acct_file(path, tag, sessions, kind, at, INTERIM_SECONDS * k)
        phases.append(
            {"packets": kind, **_radclient(radius.acct_port, "acct", secret, path, parallel)}
        )
    with city.connect() as connection:
        rows, current = connection.execute(  # type: ignore[misc]
            "SELECT count(*), count(*) FILTER (WHERE session_seconds = %s AND state = 'open' "
            "AND updated_at = to_timestamp(%s)) FROM wifi_sessions WHERE acct_session_id LIKE %s",
            (INTERIM_SECONDS * rounds, at + INTERIM_SECONDS * rounds, f"{tag}-%"),
        ).fetchone()
        # The bench's sessions end here: closed as the stale-session job would close them.
        connection.execute(
            "UPDATE wifi_sessions SET state = 'closed', close_cause = 'stale', "
            "stopped_at = updated_at WHERE acct_session_id LIKE %s",
            (f"{tag}-%",),
        )
    interim = phases[1:]
    interim_rate = min((p["answered_per_second"] for p in interim), default=0.0)
    return {
        "sessions": sessions,
        "interim_rounds": rounds,
        "phases": phases,
        "rows": rows,
        "rows_with_the_last_interim": current,
        "lost": sessions - current,
        "needed_interim_per_second": round(sessions / INTERIM_SECONDS, 1),
        "interim_per_second": interim_rate,
    }


ROLL_UP_TABLES = ("wifi_hotspot_days", "wifi_network_days", "wifi_rolled_days")


def _statistics_call(days: int) -> tuple[dict[str, Any], float]:
    """The statistics page's call (every network, the last ``days`` days) as an
    administrator makes it; its figures and seconds."""
    from infocity.connectivity import service
    from infocity.core.auth import SYSTEM
    from infocity.core.clock import city_date
    from infocity.core.db import utcnow

    last = city_date(utcnow())
    began = time.perf_counter()
    networks = service.wifi_statistics(SYSTEM, last - timedelta(days=days - 1), last)
    seconds = time.perf_counter() - began
    figures = {
        "connections": sum(d.value for n in networks for d in n.days),
        "unique_devices_busiest_day": sum(n.unique_devices_busiest_day for n in networks),
        "devices_by_day": [sum(n.devices_by_day[i].value for n in networks) for i in range(days)]
        if networks
        else [],
        "peak_concurrent": max((n.peak_concurrent for n in networks), default=0),
        "octets": sum(n.input_octets + n.output_octets for n in networks),
    }
    return figures, round(seconds, 2)


def statistics(city: City) -> dict[str, Any]:
    """The operators' statistics page's figures (every network, the last 14 days, the
    synthetic day among them): counted live from the sessions (the roll-up emptied
    first), then the roll-up job's run over the ended days, then the same call reading
    the roll-up; both calls' figures must be the same."""
    from infocity.connectivity import service
    from infocity.core.auth import SYSTEM

    use_database(city.url)
    with psycopg.connect(city.url, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {', '.join(ROLL_UP_TABLES)}")
    live, live_seconds = _statistics_call(14)
    began = time.perf_counter()
    days = 0
    while rolled := service.roll_up_wifi_statistics(SYSTEM):  # catching up, a run at a time
        days += rolled
    roll_up_seconds = time.perf_counter() - began
    rolled_up, rolled_seconds = _statistics_call(14)
    return {
        "days": 14,
        **live,
        "seconds": live_seconds,
        "roll_up": {"days": days, "seconds": round(roll_up_seconds, 2)},
        "seconds_rolled_up": rolled_seconds,
        "rolled_up_equals_live": rolled_up == live,
        "rolled_up": rolled_up,
    }


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-wifi-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run(
    city: City, *, requests: int, parallel: int, sessions: int | None = None, rounds: int = 2,
    seed: int = 1, clients: int = 1, with_statistics: bool = True, with_morning: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """The parts of the benchmark on ``city`` (the statistics and the metro's morning can
    be left out, to measure authorizations alone); the figures."""
    sessions = sessions or max(10, round(METRO_MORNING_SESSIONS * city.scale))
    stats = statistics(city) if with_statistics else None  # before the bench's own sessions
    secret, picked = _prepare(city, requests, seed)
    morning = None
    with _workdir() as directory:
        path = directory / "auth.txt"
        _auth_file(path, picked)
        _auth_file(path.with_suffix(".warm"), picked[: max(1, len(picked) // 10)])
        with running_freeradius(city.url, (BENCH_NAS, secret)) as radius:
            sql = authorizations(radius, secret, path, picked, parallel, city.url, clients)
            if with_morning:
                morning = metro_morning(
                    city, radius, secret, directory, sessions=sessions, rounds=rounds,
                    parallel=parallel,
                )  # fmt: skip
        static = static_config(directory, secret, picked)
        with running_freeradius(city.url, (BENCH_NAS, secret), config=static) as radius:
            users_file = authorizations(radius, secret, path, picked, parallel, city.url, clients)
    rate, limit = sql["answered_per_second"], users_file["answered_per_second"]
    return {
        "requests": requests,
        "parallel": parallel,
        "radclients": clients,
        "auth_aim_per_second": AUTH_AIM,
        "auth_sql": sql,
        "auth_users_file": users_file,
        "sql_over_users_file": round(rate / limit, 3) if limit else None,
        "sql_over_aim": round(rate / AUTH_AIM, 3),
        # What the work of a request would allow if the machine's cores did nothing else.
        "cores_allow_sql": _cores_allow(sql),
        "cores_allow_users_file": _cores_allow(users_file),
        "metro_morning": morning,
        "statistics": stats,
    }


def _cores_allow(run: dict[str, Any]) -> float:
    """Authorizations a second that ``CORES`` processors would answer, each request
    costing the processor time measured in ``run`` (FreeRADIUS, PostgreSQL, radclient)."""
    total = run["cpu_ms_per_request"]["total"]
    return round(CORES * 1000 / total, 1) if total else 0.0


def summary(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """The rows of the terminal's table (of the parts that ran)."""
    sql, static = figures["auth_sql"], figures["auth_users_file"]
    run = sql
    rows: list[tuple[str, Any]] = [
        ("authorizations / s, rlm_sql (aim 2,000)", sql["answered_per_second"]),
        ("  accepted / rejected / lost",
         f"{sql.get('accepted', 0)} / {sql.get('rejected', 0)} / {sql.get('lost', 0)} "
         f"(expected {sql['expected_accepted']} / {sql['expected_rejected']})"),
        ("authorizations / s, static users file", static["answered_per_second"]),
        ("  accepted / rejected / lost",
         f"{static.get('accepted', 0)} / {static.get('rejected', 0)} / {static.get('lost', 0)}"),
        ("rlm_sql / users file", figures["sql_over_users_file"]),
        ("rlm_sql / aim", figures["sql_over_aim"]),
        ("processor ms an authorization: FreeRADIUS, PostgreSQL, radclient, total",
         " / ".join(f"{run['cpu_ms_per_request'][k]}"
                    for k in ("freeradius", "postgres", "radclient", "total"))
         + f" (users file: {static['cpu_ms_per_request']['total']})"),
        ("  authorizations / s the processors allow (2 cores / total): rlm_sql, users file",
         f"{figures['cores_allow_sql']:,.0f}, {figures['cores_allow_users_file']:,.0f}"),
    ]  # fmt: skip
    if morning := figures["metro_morning"]:
        rows += [
            ("metro morning: sessions, interim rounds",
             f"{morning['sessions']:,}, {morning['interim_rounds']}"),
            ("  accounting starts / s", morning["phases"][0]["answered_per_second"]),
            ("  interim updates / s (needed)",
             f"{morning['interim_per_second']} ({morning['needed_interim_per_second']})"),
            ("  rows / with the last interim / lost",
             f"{morning['rows']} / {morning['rows_with_the_last_interim']} / {morning['lost']}"),
        ]  # fmt: skip
    if stats := figures["statistics"]:
        rows += [
            ("statistics page, 14 days: connections, seconds live",
             f"{stats['connections']:,}, {stats['seconds']}"),
            ("  roll-up job: days, seconds",
             f"{stats['roll_up']['days']}, {stats['roll_up']['seconds']}"),
            ("  seconds from the roll-up, same figures",
             f"{stats['seconds_rolled_up']}, {stats['rolled_up_equals_live']}"),
        ]  # fmt: skip
    return rows
