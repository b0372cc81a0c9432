"""Scenario: a bank's payment file of a million rows, imported all or nothing.

The import runs in this process exactly as ``infocity import payments`` runs it (the
file's bytes to ``housing.service.import_payments``). The limit, in the same run: a bare
``COPY`` of the same rows into a table shaped like ``payments``, with no parsing, checks
or merge, which no import of the file can beat.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from infocity.core.auth import SYSTEM

PAYER_BASE = 9_100_000_000  # payer codes of the benchmark's apartments: 91xxxxxxxx


def prepare_apartments(url: str, apartments: int) -> list[str]:
    """An operator and ``apartments`` apartments, made in one statement (they are the
    setting, not what is measured; those of an earlier run are reused); their payer
    codes."""
    from infocity.city import service as city
    from infocity.city.schemas import OrganisationCreate

    operator = city.create_organisation(
        OrganisationCreate(kind="housing_operator", name=f"Bench operator {time.time_ns()}"),
        actor=SYSTEM,
    ).id
    with psycopg.connect(url) as connection:
        connection.execute(
            "INSERT INTO apartments (payer_code, operator_id, address, number, residents) "
            "SELECT lpad((%(base)s + n)::text, 10, '0'), %(operator)s, "
            "'Bench street, ' || (n / 100), (n %% 100 + 1)::text, 2 "
            "FROM generate_series(0, %(count)s - 1) AS n ON CONFLICT DO NOTHING",
            {"base": PAYER_BASE, "operator": operator, "count": apartments},
        )
    return [f"{PAYER_BASE + n:010d}" for n in range(apartments)]


def write_file(path: Path, codes: list[str], rows: int, seed: int) -> Path:
    """A bank file of ``rows`` payments to random apartments over the last 30 days, with
    payment ids of this run's own."""
    from infocity.core.db import utcnow

    generator = random.Random(seed)
    today = utcnow().date()
    days = [(today - timedelta(days=d)).isoformat() for d in range(30)]
    run = time.time_ns()
    with path.open("w", encoding="utf-8") as fh:
        fh.write("payment_id,payer_code,amount,paid_on\n")
        for n in range(rows):
            kopecks = generator.randrange(10_00, 20_000_00)
            fh.write(
                f"SBER-{run}-{n:09d},{generator.choice(codes)},"
                f"{kopecks // 100}.{kopecks % 100:02d},{generator.choice(days)}\n"
            )
    return path


def bare_copy(url: str, path: Path) -> float:
    """Seconds to COPY the file's rows into a table shaped like ``payments`` (same
    unique key and index), unchecked: the limit."""
    with psycopg.connect(url) as connection:
        connection.execute(
            "CREATE TEMPORARY TABLE bench_payments (id bigserial PRIMARY KEY, "
            "external_id varchar(64) UNIQUE, payer_code varchar(10), amount numeric(12,2), "
            "paid_on date)"
        )
        connection.execute("CREATE INDEX ON bench_payments (payer_code)")
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY bench_payments (external_id, payer_code, amount, paid_on) "
                "FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy,
            path.open("rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        connection.commit()
        return time.perf_counter() - started


def run_payments(url: str, *, rows: int, apartments: int, seed: int) -> dict[str, Any]:
    """Import a file of ``rows`` payments, again (all already imported), and once more
    with one bad row at its end (refused, nothing written); beside the bare COPY."""
    from infocity.housing import rules, service
    from infocity.housing.service import PaymentFileRefused

    codes = prepare_apartments(url, apartments)
    with tempfile.TemporaryDirectory(prefix="bench-payments-") as directory:
        path = write_file(Path(directory) / "payments.csv", codes, rows, seed)
        data = path.read_bytes()
        started = time.perf_counter()
        parsed, errors = rules.parse_payments(rules.decode_payment_file(data), today=time_today())
        parse_seconds = time.perf_counter() - started
        if errors or len(parsed) != rows:
            raise RuntimeError(f"the generated file has bad rows: {errors[:5]}")

        started = time.perf_counter()
        first = service.import_payments(SYSTEM, data)
        import_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = service.import_payments(SYSTEM, data)
        again_seconds = time.perf_counter() - started
        bad = data + f"BAD-1,{codes[0]},99999999999.99,{time_today()}\n".encode()
        started = time.perf_counter()
        try:
            service.import_payments(SYSTEM, bad)
            refused_lines: list[int] = []
        except PaymentFileRefused as exc:
            refused_lines = [line for line, _ in exc.rows]
        refused_seconds = time.perf_counter() - started
        limit_seconds = bare_copy(url, path)
        file_bytes = len(data)
    return {
        "rows": rows,
        "apartments": apartments,
        "file_mib": round(file_bytes / 2**20, 1),
        "import": {
            "seconds": round(import_seconds, 2),
            "rows_per_second": round(rows / import_seconds),
            "imported": first.imported,
            "parse_seconds": round(parse_seconds, 2),
        },
        "reimport": {
            "seconds": round(again_seconds, 2),
            "already_imported": again.already_imported,
            "imported": again.imported,
        },
        "refused_file": {"seconds": round(refused_seconds, 2), "bad_lines": refused_lines},
        "bare_copy": {
            "seconds": round(limit_seconds, 2),
            "rows_per_second": round(rows / limit_seconds),
        },
        "import_over_bare_copy": round(import_seconds / limit_seconds, 1),
    }


def time_today() -> Any:
    """The city's date today (the import judges paid dates by it)."""
    from infocity.core.db import utcnow
    from infocity.core.settings import get_settings

    return utcnow().astimezone(get_settings().city_tz).date()
