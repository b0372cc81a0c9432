"""GNU Health beside InfoCity in the booking rush (optional: ``bench rush --gnuhealth``).

GNU Health (the ``gnuhealth`` package, on Tryton's ``trytond``) is installed from the
package registry into a virtual environment of its own (``bench/.gnuhealth/`` unless told
otherwise, git-ignored), its database is created on the PostgreSQL the bench uses and
initialised with ``trytond-admin --all`` and the ``health`` module (which holds the
appointments). One healthcare professional gets N appointment slots of one day
(``gnuhealth.appointment`` records in state ``free``, without a patient), patients are
created, and trytond's WSGI app is served by gunicorn, 2 workers x 4 threads.

The demand is InfoCity's rush: the same clients, the same number of slots, 80 % of the
attempts on 20 % of the slots (drawn by ``bench.rush.demand``, as InfoCity's run draws
them), each attempt a fresh patient booking one slot over JSON-RPC as GNU Health's own
client does: read the slot; if it is free, write the patient and the state ``confirmed``
to it, sending the record's ``_timestamp`` (the client's guard against overwriting a
record changed since it was read). A second pass sends the same write without the
timestamp, as a plain JSON-RPC integration would.

Double bookings are counted from GNU Health's database: a trigger the bench adds to its
appointment table records every committed change of an appointment's patient, and a slot
that was written with two different patients was promised to both (the later write
replaces the earlier patient, whose answer was a success all the same).

Installing and initialising take minutes, so all of it is reused when present: the
environment (a marker file names the version), the database (and a dump of it, restored
into a new throwaway cluster instead of running ``trytond-admin`` again), the slots and
the patients.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from bench.client import Request, Result, drive, percentile
from bench.env import ROOT, pgbench_path
from bench.rush import demand
from tests.support.postgres import free_port
from tests.support.servers import stop_process, wait_until

VERSION = "5.0.6"
REQUIREMENTS = (f"gnuhealth=={VERSION}", "gunicorn", "psycopg2-binary")
DEFAULT_HOME = ROOT / "bench" / ".gnuhealth"
DATABASE = "gnuhealth_bench"
# A throwaway database served on 127.0.0.1 only, for the length of a benchmark.
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"  # noqa: S105
PATIENTS = 1500  # fresh patients for the attempts of a run (created once, reused)
WORKERS = 2
THREADS = 4
MODEL = "gnuhealth.appointment"
PATH = f"/{DATABASE}/"  # trytond's JSON-RPC endpoint of the database

# Run by GNU Health's own Python: the professional, the slots and the patients, created
# once and reused (looked up by the names given here). Prints their ids as JSON.
SETUP_SCRIPT = r"""
import datetime, json, sys
from trytond.config import config
config.update_etc(sys.argv[1])
from trytond.pool import Pool
from trytond.transaction import Transaction

database, slots, patients, day = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
Pool.start()
pool = Pool(database)
with Transaction().start(database, 0, readonly=True):
    pool.init()
with Transaction().start(database, 0, context={'active_test': False}) as transaction:
    Party = pool.get('party.party')
    Professional = pool.get('gnuhealth.healthprofessional')
    Patient = pool.get('gnuhealth.patient')
    Appointment = pool.get('gnuhealth.appointment')

    def person(code, name, lastname, **values):
        # Codes of our own: GNU Health gives every party of one create() call the same
        # PUID, and creates the whole list once per entry, so parties go one at a time.
        party, = Party.create([{
            'name': name, 'lastname': lastname, 'is_person': True, 'fed_country': None,
            'ref': code, 'code': code, 'federation_account': 'XXX' + code, **values}])
        return party

    found = Professional.search([('party.code', '=', 'BENCH-DOCTOR')])
    if found:
        professional, = found
    else:
        doctor = person('BENCH-DOCTOR', 'Bench', 'Doctor', is_healthprof=True, gender='f')
        professional, = Professional.create([{'party': doctor.id}])
    known = Patient.search([('party.lastname', '=', 'BenchPatient')])
    for n in range(len(known), patients):
        person(f'BENCH-P{n}', f'P{n}', 'BenchPatient', is_patient=True, gender='m',
               dob=datetime.date(1980, 1, 1), create_target=True)  # the patient with it
    known = Patient.search([('party.lastname', '=', 'BenchPatient')], order=[('id', 'ASC')])
    start = datetime.datetime.fromisoformat(day)
    taken = Appointment.search([('healthprof', '=', professional.id)], order=[('id', 'ASC')])
    taken += Appointment.create([{
        'healthprof': professional.id, 'state': 'free', 'appointment_type': 'outpatient',
        'appointment_date': start + datetime.timedelta(minutes=(len(taken) + i) % 720,
                                                       seconds=(len(taken) + i) // 720)}
        for i in range(slots - len(taken))])
    transaction.commit()
    print(json.dumps({'professional': professional.id,
                      'slots': [a.id for a in taken][:slots],
                      'patients': [p.id for p in known][:patients]}))
"""

# The bench's own record of every committed change of an appointment's patient (trytond
# keeps no history of appointments): two different patients on one slot are a double
# booking even though the appointment row shows only the last.
WRITES_LOG_SQL = """
CREATE TABLE IF NOT EXISTS bench_appointment_writes (
    appointment integer NOT NULL, patient integer NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE OR REPLACE FUNCTION bench_log_appointment_write() RETURNS trigger AS $$
BEGIN
    INSERT INTO bench_appointment_writes (appointment, patient) VALUES (NEW.id, NEW.patient);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS bench_appointment_write ON gnuhealth_appointment;
CREATE TRIGGER bench_appointment_write AFTER UPDATE OF patient ON gnuhealth_appointment
    FOR EACH ROW WHEN (NEW.patient IS NOT NULL AND NEW.patient IS DISTINCT FROM OLD.patient)
    EXECUTE FUNCTION bench_log_appointment_write();
"""


@dataclass(frozen=True)
class Installation:
    """GNU Health's environment and the trytond configuration pointing at a cluster."""

    home: Path
    config: Path
    admin_url: str  # the cluster's maintenance database (postgresql://.../postgres)

    @property
    def bin(self) -> Path:
        return self.home / "venv" / "bin"

    @property
    def url(self) -> str:
        return database_url(self.admin_url, DATABASE)

    def environment(self) -> dict[str, str]:
        return {**os.environ, "TRYTOND_CONFIG": str(self.config)}


@dataclass(frozen=True)
class Setup:
    """What the rush books: the slots (in demand order) and the patients."""

    professional: int
    slot_ids: list[int]
    patient_ids: list[int]


def database_url(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def install(home: Path = DEFAULT_HOME, *, quiet: bool = False) -> Path:
    """GNU Health's virtual environment under ``home``, installed from the package
    registry unless a marker says this version is already there; its bin directory."""
    venv = home / "venv"
    marker = home / f"installed-{VERSION}"
    if marker.exists() and (venv / "bin" / "trytond-admin").exists():
        return venv / "bin"
    home.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"installing GNU Health {VERSION} into {venv} (minutes) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *REQUIREMENTS],
        check=True,
    )
    marker.write_text(" ".join(REQUIREMENTS) + "\n")
    return venv / "bin"


def configure(home: Path, admin_url: str) -> Installation:
    """trytond's configuration for the cluster of ``admin_url`` (one file per port, so
    that runs on different clusters do not overwrite each other's)."""
    parts = urlsplit(admin_url)
    server = urlunsplit(parts._replace(path="/"))
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = home / f"trytond-{parts.port}.conf"
    config.write_text(
        f"[database]\nuri = {server}\npath = {data}\n"
        # Sessions must outlast a long run (the default is fine, said for clarity).
        "[session]\ntimeout = 3600\n"
    )
    return Installation(home=home, config=config, admin_url=admin_url)


def _initialised(installation: Installation) -> bool:
    with psycopg.connect(installation.admin_url, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone():
            return False
    with psycopg.connect(installation.url, autocommit=True) as connection:
        if not connection.execute("SELECT to_regclass('ir_module') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
            return False
        row = connection.execute("SELECT state FROM ir_module WHERE name = 'health'").fetchone()
    return bool(row and row[0] == "activated")


def create_database(installation: Installation, *, quiet: bool = False) -> str:
    """GNU Health's database on the bench's cluster: kept when it is there, restored from
    the dump of an earlier initialisation, or initialised with ``trytond-admin --all``
    (minutes) and dumped for the next cluster. Says which it did."""
    if _initialised(installation):
        return "reused"
    with psycopg.connect(installation.admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    dump = installation.home / f"{DATABASE}-{VERSION}.dump"
    bin_dir = pgbench_path().parent
    if dump.exists():
        subprocess.run(
            [str(bin_dir / "pg_restore"), "--no-owner", "-d", installation.url, str(dump)],
            check=True, capture_output=True,
        )  # fmt: skip
        return "restored"
    if not quiet:
        print("initialising GNU Health's database: trytond-admin --all -u health ...", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".pass") as password:
        password.write(ADMIN_PASSWORD)
        password.flush()
        completed = subprocess.run(
            [str(installation.bin / "trytond-admin"), "-c", str(installation.config),
             "-d", DATABASE, "--all", "-u", "health", "--activate-dependencies",
             "--email", "admin@bench.invalid"],
            env={**installation.environment(), "TRYTONPASSFILE": password.name},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if completed.returncode != 0 or not _initialised(installation):
        raise RuntimeError(f"trytond-admin failed:\n{completed.stdout}\n{completed.stderr}")
    subprocess.run(
        [str(bin_dir / "pg_dump"), "-Fc", "-f", str(dump), installation.url],
        check=True, capture_output=True,
    )  # fmt: skip
    return "initialised"


def prepare(installation: Installation, *, slots: int, patients: int, day: str) -> Setup:
    """The professional, ``slots`` free appointments of ``day`` and ``patients`` patients
    (created where missing), every slot free again, the bench's write log empty."""
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(SETUP_SCRIPT)
        script.flush()
        completed = subprocess.run(
            [str(installation.bin / "python"), "-W", "ignore", script.name,
             str(installation.config), DATABASE, str(slots), str(patients), day],
            env=installation.environment(), capture_output=True, text=True, check=False,
        )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"GNU Health setup failed:\n{completed.stderr[-4000:]}")
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    setup = Setup(found["professional"], found["slots"], found["patients"])
    reset(installation, setup)
    return setup


def reset(installation: Installation, setup: Setup) -> None:
    """Every slot free and without a patient, the write log empty, tables vacuumed."""
    with psycopg.connect(installation.url, autocommit=True) as connection:
        connection.execute(WRITES_LOG_SQL)
        connection.execute(
            "UPDATE gnuhealth_appointment SET state = 'free', patient = NULL, name = NULL "
            "WHERE id = ANY(%s) AND (state <> 'free' OR patient IS NOT NULL)",
            (setup.slot_ids,),
        )
        connection.execute("TRUNCATE bench_appointment_writes")
        connection.execute("VACUUM (ANALYZE) gnuhealth_appointment, ir_session")


@contextlib.contextmanager
def serve(installation: Installation) -> Iterator[str]:
    """trytond's WSGI app under gunicorn (2 workers x 4 threads) on 127.0.0.1; its base
    URL, once a worker has loaded GNU Health's database."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe that could fill
    process = subprocess.Popen(
        [str(installation.bin / "gunicorn"), "--workers", str(WORKERS), "--threads",
         str(THREADS), "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         "trytond.application:app"],
        # Each worker loads the database's modules before it takes a request.
        env={**installation.environment(), "TRYTOND_DATABASE_NAMES": DATABASE},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=5) as client:

            def answers() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    reply = client.post(
                        f"{base_url}/", json={"id": 0, "method": "common.server.version",
                                              "params": []})  # fmt: skip
                    return reply.status_code == 200
                return False

            wait_until(answers, process, log=log)
        yield base_url
    finally:
        stop_process(process, timeout=30)
        log.close()


def login(base_url: str, sessions: int) -> list[str]:
    """``sessions`` logins of the administrator: one Authorization header each (every
    client of the rush is a receptionist with a session of their own)."""
    headers = []
    with httpx.Client(timeout=60) as client:
        for n in range(sessions):
            reply = client.post(base_url + PATH, json={
                "id": n, "method": "common.db.login",
                "params": [ADMIN_LOGIN, {"password": ADMIN_PASSWORD}, "en"]})  # fmt: skip
            user, key = reply.json()["result"]
            token = base64.b64encode(f"{ADMIN_LOGIN}:{user}:{key}".encode()).decode()
            headers.append(f"Session {token}")
    return headers


@dataclass
class Attempt:
    """One booking attempt: read the slot, and write it when it was free."""

    slot: int
    patient: int
    started: float
    timestamp: str | None = None
    outcome: str = ""  # booked, slot_taken (read), concurrency (write refused), error
    seconds: float = 0.0
    calls: int = 0


def _rpc(method: str, params: list[Any], header: str, tag: str) -> Request:
    return Request(
        "POST", PATH, {"id": 1, "method": method, "params": params},
        (("Authorization", header),), tag=tag,
    )  # fmt: skip


def _error_kind(result: Result) -> str | None:
    """None for a JSON-RPC result; otherwise the kind of error (trytond answers errors
    with status 200 and an ``error`` member naming the exception)."""
    if result.status != 200:
        return "error"
    try:
        body = result.json()
    except ValueError:
        return "error"
    if "error" not in body:
        return None
    error = body["error"]
    name = str(error[0]) if isinstance(error, list) and error else str(error)
    return "concurrency" if name == "ConcurrencyException" else f"error:{name[:60]}"


def rush(
    base_url: str,
    setup: Setup,
    headers: list[str],
    *,
    clients: int,
    duration: float,
    hot_share: float,
    hot_demand: float,
    seed: int,
    send_timestamp: bool = True,
    warmup_rounds: int = 3,
) -> tuple[list[Attempt], float, int]:
    """The rush against GNU Health: until every slot is booked, the patients run out or
    time is up. Returns the attempts, the elapsed seconds and the RPC calls made."""
    pick = demand(len(setup.slot_ids), hot_share, hot_demand, seed)
    patients = iter(setup.patient_ids)
    current: dict[int, Attempt] = {}
    done: list[Attempt] = []
    booked: set[int] = set()
    read_fields = ["state", "patient", "_timestamp"]

    def read(client: int, slot: int) -> Request:
        return _rpc(f"model.{MODEL}.read", [[slot], read_fields, {}], headers[client],
                    str(client))  # fmt: skip

    # Warm up every connection and worker thread with reads (they change nothing),
    # drawing as many slots as InfoCity's warm-up draws, so that the rush's attempts
    # then go to the same slot indexes as InfoCity's.
    warm = iter([setup.slot_ids[pick()] for _ in range(clients * warmup_rounds)])

    def warm_up(client: int) -> Request | None:
        slot = next(warm, None)
        return None if slot is None else read(client, slot)

    asyncio.run(drive(base_url, clients, warm_up, duration=60))

    def next_request(client: int) -> Request | None:
        attempt = current.get(client)
        if attempt is not None and attempt.timestamp is not None:
            context: dict[str, Any] = {}
            if send_timestamp:
                context["_timestamp"] = {f"{MODEL},{attempt.slot}": attempt.timestamp}
            values = {"patient": attempt.patient, "state": "confirmed"}
            return _rpc(f"model.{MODEL}.write", [[attempt.slot], values, context],
                        headers[client], str(client))  # fmt: skip
        if len(booked) >= len(setup.slot_ids):
            return None
        patient = next(patients, None)
        if patient is None:
            return None
        slot = setup.slot_ids[pick()]
        current[client] = Attempt(slot=slot, patient=patient, started=time.perf_counter())
        return read(client, slot)

    def finish(client: int, attempt: Attempt, outcome: str) -> None:
        attempt.outcome = outcome
        attempt.seconds = time.perf_counter() - attempt.started
        done.append(attempt)
        del current[client]

    def on_result(result: Result) -> None:
        client = int(result.request.tag)
        attempt = current[client]
        attempt.calls += 1
        kind = _error_kind(result)
        if attempt.timestamp is None:  # the answer to the read
            if kind is not None:
                finish(client, attempt, "error" if kind == "error" else kind)
                return
            record = result.json()["result"][0]
            if record["state"] == "free" and record["patient"] is None:
                attempt.timestamp = str(record["_timestamp"])
            else:
                finish(client, attempt, "slot_taken")
            return
        if kind is None:
            booked.add(attempt.slot)
            finish(client, attempt, "booked")
        else:
            finish(client, attempt, kind)

    results, elapsed = asyncio.run(
        drive(base_url, clients, next_request, duration=duration, on_result=on_result)
    )
    return done, elapsed, len(results)


def summarise(attempts: list[Attempt], elapsed: float, calls: int) -> dict[str, Any]:
    """Answers (finished attempts) a second, latency of an attempt, outcomes."""
    latencies = [a.seconds * 1000 for a in attempts]
    outcomes = Counter(a.outcome for a in attempts)
    return {
        "attempts": len(attempts),
        "seconds": round(elapsed, 2),
        "answers_per_second": round(len(attempts) / elapsed, 1) if elapsed else 0.0,
        "rpc_calls_per_second": round(calls / elapsed, 1) if elapsed else 0.0,
        "bookings": outcomes["booked"],
        "bookings_per_second": round(outcomes["booked"] / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies, default=0.0), 1),
        },
        "outcomes": dict(outcomes),
        "errors": sum(n for kind, n in outcomes.items() if kind.startswith("error")),
    }


def check_database(
    installation: Installation, setup: Setup, attempts: list[Attempt]
) -> dict[str, Any]:
    """From GNU Health's database: slots written with two different patients (double
    bookings), and bookings answered as made whose slot holds another patient."""
    with psycopg.connect(installation.url, autocommit=True) as connection:
        double = connection.execute(
            "SELECT count(*) FROM (SELECT appointment FROM bench_appointment_writes "
            "WHERE appointment = ANY(%s) GROUP BY appointment "
            "HAVING count(DISTINCT patient) > 1) AS d",
            (setup.slot_ids,),
        ).fetchone()
        holders: dict[int, int] = {
            int(row[0]): int(row[1])
            for row in connection.execute(
                "SELECT id, patient FROM gnuhealth_appointment WHERE id = ANY(%s) "
                "AND patient IS NOT NULL",
                (setup.slot_ids,),
            )
        }
    booked = [a for a in attempts if a.outcome == "booked"]
    answered = Counter(a.slot for a in booked)
    return {
        "double_bookings": int(double[0]) if double else 0,
        "slots_answered_booked_twice": sum(1 for n in answered.values() if n > 1),
        "booked_answers_holding_another_patient": sum(
            1 for a in booked if holders.get(a.slot) != a.patient
        ),
        "booked_slots": len(holders),
    }


def run(
    city_url: str,
    *,
    home: Path,
    slots: int,
    clients: int,
    duration: float,
    hot_share: float,
    hot_demand: float,
    seed: int,
    patients: int,
    day: str,
    infocity: dict[str, Any],
) -> dict[str, Any]:
    """Install (or reuse) GNU Health on the cluster of ``city_url``, run the rush against
    it twice (the client's guarded write, then the plain write), and compare with
    InfoCity's run (``infocity``: its summary, ``bench.rush.summarise``)."""
    began = time.perf_counter()
    install(home)
    installation = configure(home, database_url(city_url, "postgres"))
    database = create_database(installation)
    setup = prepare(installation, slots=slots, patients=patients, day=day)
    prepared_after = time.perf_counter() - began
    passes: dict[str, Any] = {}
    with serve(installation) as base_url:
        headers = login(base_url, clients)
        for name, timestamp in (("client_write", True), ("plain_write", False)):
            reset(installation, setup)
            attempts, elapsed, calls = rush(
                base_url, setup, headers, clients=clients, duration=duration,
                hot_share=hot_share, hot_demand=hot_demand, seed=seed,
                send_timestamp=timestamp,
            )  # fmt: skip
            passes[name] = summarise(attempts, elapsed, calls)
            passes[name]["database"] = check_database(installation, setup, attempts)
            # A pass that used every patient ended early: more patients are needed.
            passes[name]["patients_used_up"] = len(attempts) >= len(setup.patient_ids)
            # The machine is shared: how busy it was during this pass.
            passes[name]["load_average"] = [round(n, 1) for n in os.getloadavg()]
    reset(installation, setup)
    ours = float(infocity["requests_per_second"])
    theirs = float(passes["client_write"]["answers_per_second"])
    return {
        "version": VERSION,
        "server": f"gunicorn {WORKERS} workers x {THREADS} threads, trytond WSGI, JSON-RPC",
        "database": database,
        "prepared_in_s": round(prepared_after, 1),
        "slots": len(setup.slot_ids),
        "patients": len(setup.patient_ids),
        "clients": clients,
        **passes,
        "infocity_answers_per_second": ours,
        "infocity_p99_ms": infocity["latency_ms"]["p99"],
        "infocity_over_gnuhealth": round(ours / theirs, 2) if theirs else None,
    }


def rows(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines of the terminal table."""
    lines: list[tuple[str, Any]] = [("GNU Health database", figures["database"])]
    for name, label in (("client_write", "client's write"), ("plain_write", "plain write")):
        run_ = figures[name]
        latency = run_["latency_ms"]
        lines += [
            (f"GNU Health, {label}: answers / s, bookings",
             f"{run_['answers_per_second']}, {run_['bookings']}"),
            (f"GNU Health, {label}: p50 / p95 / p99 ms",
             f"{latency['p50']} / {latency['p95']} / {latency['p99']}"),
            (f"GNU Health, {label}: double bookings (database)",
             run_["database"]["double_bookings"]),
            (f"GNU Health, {label}: outcomes", run_["outcomes"]),
        ]  # fmt: skip
    lines.append(("InfoCity ÷ GNU Health (answers / s)", figures["infocity_over_gnuhealth"]))
    return lines
