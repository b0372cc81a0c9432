"""The command line: ``infocity serve | worker | db | seed | user | import | housing |
education | safety``.

Commands stay thin: parse, call one service function, print.
"""

from __future__ import annotations

import enum
import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from infocity.core.settings import PROJECT_ROOT, base_url_mismatch, get_settings

APP_FACTORY = "infocity.app:create_app"

app = typer.Typer(help="InfoCity: the city's electronic public services.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
seed_app = typer.Typer(help="Load data.", no_args_is_help=True)
user_app = typer.Typer(help="Staff and administrator accounts.", no_args_is_help=True)
import_app = typer.Typer(help="Import files from partners (banks).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(user_app, name="user")
housing_app = typer.Typer(help="Housing and utilities.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(housing_app, name="housing")
education_app = typer.Typer(help="Education: exam results.", no_args_is_help=True)
app.add_typer(education_app, name="education")
health_app = typer.Typer(help="Medical appointments.", no_args_is_help=True)
app.add_typer(health_app, name="health")
cards_app = typer.Typer(help="School cards: the devices' MQTT bridge.", no_args_is_help=True)
app.add_typer(cards_app, name="cards")
safety_app = typer.Typer(help="School video surveillance.", no_args_is_help=True)
app.add_typer(safety_app, name="safety")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Number of server processes."),
    migrate: bool = typer.Option(False, help="Apply pending migrations first."),
    with_worker: bool = typer.Option(
        False, help="Also run one notification worker beside the server (for a laptop)."
    ),
) -> None:
    """Serve the web pages and the JSON API."""
    import subprocess
    import sys

    import uvicorn

    from infocity.core import migrate as migrations
    from infocity.core.logging import configure_logging, log
    from infocity.web import serving

    configure_logging()
    mismatch = base_url_mismatch(get_settings().base_url, host, port)
    if mismatch:
        # Every link in e-mail and SMS is built on the base URL: a mismatch makes them dead.
        log(
            logging.getLogger("infocity"),
            logging.WARNING,
            "links in messages will not work",
            reason=mismatch,
        )
    if migrate:
        migrations.upgrade()
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Metrics of all processes are summed through files in this directory.
        metrics_dir = PROJECT_ROOT / "var" / f"prometheus-{port}"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics_dir.glob("*.db"):
            stale.unlink()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    worker_process: subprocess.Popen[bytes] | None = None
    if with_worker:
        # uvicorn re-raises the SIGTERM it caught once it has shut down; under the default
        # handler that kills this process at once, skipping the ``finally`` below and
        # leaving the worker orphaned. Exiting through SystemExit runs it.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if with_worker:
            worker_process = subprocess.Popen([sys.executable, "-m", "infocity", "worker"])
        typer.echo(f"InfoCity is serving on http://{host}:{port} ({workers} process(es))")
        options: dict[str, Any] = {
            "factory": True,
            "host": host,
            "port": port,
            "workers": workers,
            "log_config": None,
            "timeout_graceful_shutdown": 20,
            # uvicorn restarts a process that has not started (or answered its ping) in
            # 5 s: on a busy machine each new one is killed before it has imported the
            # application, for ever.
            "timeout_worker_healthcheck": 60,
            "proxy_headers": True,
        }
        if workers > 1 and serving.reuse_port_supported():
            # A listening socket per process: with uvicorn's one shared socket, one
            # process may accept nearly every keep-alive connection while the other idles.
            serving.run_processes(uvicorn.Config(APP_FACTORY, **options))
        else:
            uvicorn.run(APP_FACTORY, **options)
    finally:
        if worker_process is not None:
            worker_process.terminate()  # the worker finishes its current message and exits
            try:
                worker_process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker_process.kill()
                worker_process.wait()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class WorkerPart(enum.StrEnum):
    """What a worker process runs (``infocity.core.worker.PARTS``)."""

    delivery = "delivery"
    jobs = "jobs"
    prompt = "prompt"


@app.command()
def worker(
    once: bool = typer.Option(False, help="Deliver what is due and run due jobs, then exit."),
    name: str | None = typer.Option(None, help="Worker name in leases (default host:pid)."),
    only: list[WorkerPart] | None = typer.Option(
        None,
        help="Run only this part, repeat for several (default: all): delivery (of the "
        "outbox), jobs (the periodic jobs but the prompt ones), prompt (the jobs that tell "
        "people of events: give them a process of their own at a busy hour).",
        case_sensitive=False,
    ),
    skip_job: list[str] | None = typer.Option(
        None,
        help="Leave the jobs matching this pattern to other workers, repeat for several "
        "(e.g. 'safety.*': the cameras' checks on a machine of their own).",
    ),
) -> None:
    """Deliver queued notifications and run periodic jobs."""
    from infocity.core.logging import configure_logging
    from infocity.core.worker import PARTS, run_worker

    configure_logging()
    run_worker(
        once=once,
        name=name,
        parts=frozenset(map(str, only)) if only else PARTS,
        skip=tuple(skip_job or ()),
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from infocity.core import migrate

    migrate.upgrade(revision=revision)
    typer.echo(f"database at {migrate.current_revision()}")


@db_app.command("revision")
def db_revision(message: str = typer.Option(..., "-m", help="What the migration does.")) -> None:
    """Generate the next numbered migration from the models."""
    from infocity.core import migrate

    migrate.revision(message)


@db_app.command("current")
def db_current() -> None:
    """Print the applied revision and whether it is the latest."""
    from infocity.core import migrate

    current = migrate.current_revision()
    typer.echo(f"{current} ({'current' if current == migrate.script_head() else 'pending'})")


@seed_app.command("demo")
def seed_demo() -> None:
    """Load the small demo city (idempotent: running it twice changes nothing)."""
    from infocity.demo import load_demo_city

    created = load_demo_city()
    typer.echo("demo city loaded" if created else "demo city already present")


@seed_app.command("city")
def seed_city(
    scale: float = typer.Option(0.01, min=0.0001, max=10, help="1 = the whole city (2014)."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same city."),
    start: str | None = typer.Option(
        None, help="First city date of the booking horizon, YYYY-MM-DD (default: today)."
    ),
    progress: bool = typer.Option(True, help="Draw a progress bar."),
) -> None:
    """Generate and bulk-load a synthetic city (residents, polyclinics, doctors, slots,
    schools, kindergartens and their queues, exam results)."""
    from datetime import date

    from infocity.analytics.loader import CityAlreadyLoaded, load_city, plan_city, row_counts

    try:
        city = plan_city(scale, seed, date.fromisoformat(start) if start else None)
    except CityAlreadyLoaded as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ) as bar:
            tasks = {t: bar.add_task(t, total=n) for t, n in row_counts(city).items()}
            report = load_city(
                scale,
                seed,
                city=city,
                advance=lambda table, done: bar.update(tasks[table], completed=done),
            )
    else:
        report = load_city(scale, seed, city=city)
    typer.echo(
        f"city at scale {scale} loaded ({report.backend}): {report.total_rows:,} rows in "
        f"{report.seconds:.1f} s, {report.rows_per_second:,.0f} rows/s"
        + "".join(f"; {step} {seconds:.1f} s" for step, seconds in report.steps.items())
    )
    for table, rows in report.rows.items():
        typer.echo(f"  {table:<20} {rows:>12,}")


@user_app.command("create")
def user_create(
    email: str = typer.Option(..., help="Log-in e-mail."),
    name: str = typer.Option(..., help="Full name."),
    role: str = typer.Option(..., help="Role, e.g. city_admin, registrar, analyst."),
    organisation: int | None = typer.Option(None, help="Organisation id for scoped roles."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Password."
    ),
) -> None:
    """Create a staff or administrator account."""
    from infocity.accounts import service
    from infocity.accounts.schemas import StaffCreate
    from infocity.core.auth import SYSTEM
    from infocity.core.errors import AppError

    try:
        user = service.create_staff_account(
            StaffCreate(
                email=email,
                display_name=name,
                role=role,
                organisation_id=organisation,
                password=password,
            ),
            actor=SYSTEM,
        )
    except AppError as exc:
        typer.echo(exc.translated(), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created user {user.id} ({email}) as {role}")


@user_app.command("verify")
def user_verify(
    login: str = typer.Argument(..., help="The account's e-mail or phone number."),
) -> None:
    """Confirm a citizen's e-mail or phone without the link (checked in person, or a demo
    without a mail server)."""
    from infocity.accounts import service
    from infocity.core.errors import AppError

    try:
        user = service.confirm_contact(None, login)
    except AppError as exc:
        typer.echo(exc.translated(), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"user {user.id} ({login}) is confirmed")


@import_app.command("payments")
def import_payments(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The bank's CSV file."),
) -> None:
    """Import utility payments (CSV: payment_id,payer_code,amount,paid_on; UTF-8 or
    Windows-1251); all or nothing, every bad line reported, idempotent by payment id."""
    from infocity.core.auth import SYSTEM
    from infocity.housing import service
    from infocity.housing.service import PaymentFileRefused

    try:
        result = service.import_payments(SYSTEM, file.read_bytes())
    except PaymentFileRefused as exc:
        typer.echo(exc.translated(), err=True)
        for line, problem in exc.rows:
            typer.echo(f"  line {line}: {problem}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"payments imported: {result.imported}, already imported: {result.already_imported}")


@housing_app.command("bank-details")
def housing_bank_details(
    operator: int = typer.Argument(..., help="The housing operator's organisation id."),
    name: str = typer.Option(..., help="The payee's name as the bank knows it."),
    account: str = typer.Option(..., help="The settlement account, 20 digits."),
    bank: str = typer.Option(..., help="The bank's name."),
    bic: str = typer.Option(..., help="The bank's BIC, 9 digits."),
    correspondent_account: str = typer.Option(..., help="The bank's account, 20 digits."),
    inn: str = typer.Option(..., help="The payee's INN, 10 or 12 digits."),
) -> None:
    """Set the bank account an operator's bills are paid to (printed on its bills and in
    their payment QR codes)."""
    from pydantic import ValidationError

    from infocity.core.auth import SYSTEM
    from infocity.core.errors import AppError, InvalidFields
    from infocity.housing import service
    from infocity.housing.schemas import BankDetailsCreate

    try:
        service.set_operator_bank_details(
            SYSTEM,
            operator,
            BankDetailsCreate(
                name=name,
                personal_account=account,
                bank_name=bank,
                bic=bic,
                correspondent_account=correspondent_account,
                inn=inn,
            ),
        )
    except InvalidFields as exc:
        for error in exc.errors:
            typer.echo(f"{error.field}: {error.translated()}", err=True)
        raise typer.Exit(2) from exc
    except (AppError, ValidationError) as exc:
        typer.echo(exc.translated() if isinstance(exc, AppError) else str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"bank details of operator {operator} are set")


@education_app.command("import-results")
def education_import_results(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The results CSV file."),
) -> None:
    """Import exam results (CSV: registration_code,document_number,subject,score,pass_mark,
    published_at); all or nothing, every bad line reported; a result imported again is
    kept as a correction."""
    from infocity.core.auth import SYSTEM
    from infocity.core.errors import AppError
    from infocity.education import service
    from infocity.education.errors import ResultsFileRefused

    try:
        result = service.import_exam_results(SYSTEM, file.read_bytes())
    except ResultsFileRefused as exc:
        typer.echo(exc.translated(), err=True)
        for line, problem in exc.translated_rows():
            typer.echo(f"  line {line}: {problem}", err=True)
        raise typer.Exit(2) from exc
    except AppError as exc:
        typer.echo(exc.translated(), err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"results imported: {result.rows}, new participants: {result.participants_added}, "
        f"corrections: {result.corrections}"
    )


@health_app.command("register-fhir-client")
def health_register_fhir_client(
    name: str = typer.Argument(..., help="The client system, as people call it."),
    scope: list[str] = typer.Option(..., help="A scope, e.g. system/Slot.read; repeatable."),
) -> None:
    """Register a client system of the FHIR API; prints its client id and secret (the
    secret is shown only now)."""
    from pydantic import ValidationError

    from infocity.core.auth import SYSTEM
    from infocity.core.errors import AppError
    from infocity.health import service
    from infocity.health.schemas import FhirClientCreate

    try:
        client = service.register_fhir_client(SYSTEM, FhirClientCreate(name=name, scopes=scope))
    except (AppError, ValidationError) as exc:
        typer.echo(exc.translated() if isinstance(exc, AppError) else str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"client_id={client.client_id}")
    typer.echo(f"client_secret={client.client_secret}")
    typer.echo(f"scopes={client.scopes}")


@safety_app.command("import-cameras")
def safety_import_cameras(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The cameras CSV file."),
) -> None:
    """Import school cameras (CSV: school_id,address,code,stream_url,placement,model,
    installed_on,username,password); all or nothing, every bad line reported."""
    from infocity.core.auth import SYSTEM
    from infocity.core.errors import AppError
    from infocity.safety import service
    from infocity.safety.errors import CameraFileRefused

    try:
        result = service.import_cameras(SYSTEM, file.read_text(encoding="utf-8-sig"))
    except CameraFileRefused as exc:
        typer.echo(exc.translated(), err=True)
        for line in exc.lines():
            typer.echo(f"  line {line}", err=True)
        raise typer.Exit(2) from exc
    except AppError as exc:
        typer.echo(exc.translated(), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"cameras imported: {result.created} in {result.buildings} buildings")


@safety_app.command("probe")
def safety_probe(
    frames: bool = typer.Option(False, "--frames", help="Read a frame of each (slow cycle)."),
    devices: bool = typer.Option(
        False, "--devices", help="Ask the cameras with credentials for ONVIF device information."
    ),
) -> None:
    """Run one probe cycle of every camera now and record it (the worker runs them)."""
    from infocity.core.auth import SYSTEM
    from infocity.safety import service

    if devices:
        typer.echo(service.run_device_cycle(SYSTEM).model_dump_json())
        return
    cycle = service.run_frame_cycle(SYSTEM) if frames else service.run_fast_cycle(SYSTEM)
    typer.echo(cycle.model_dump_json())


@safety_app.command("rotate-credentials")
def safety_rotate_credentials() -> None:
    """Re-encrypt every camera's credentials with the first key of
    INFOCITY_SAFETY_CREDENTIAL_KEYS (then the old keys can be dropped)."""
    from infocity.core.auth import SYSTEM
    from infocity.safety import service

    typer.echo(f"credentials re-encrypted: {service.rotate_camera_credentials(SYSTEM)}")


@app.callback()
def main() -> None:
    """InfoCity command line."""
    get_settings()  # fail early on bad settings


@cards_app.command("mqtt")
def cards_mqtt(
    host: str = typer.Option("127.0.0.1", help="The MQTT broker's address."),
    port: int = typer.Option(1883, help="The MQTT broker's port."),
    prefix: str = typer.Option("infocity/cards", help="The topics' prefix."),
    client_id: str = typer.Option(
        "infocity-cards-bridge",
        help="The bridge's MQTT client id: its persistent session on the broker, where "
        "messages wait while it is down (one id per bridge).",
    ),
) -> None:
    """Feed turnstiles' and tills' MQTT messages (QoS 1) to the card events ingest; each
    message is acknowledged once its events are stored."""
    import signal
    import threading

    from infocity.cards.mqtt import run_bridge

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    run_bridge(
        host,
        port,
        prefix=prefix,
        client_id=client_id,
        on_ready=lambda: typer.echo(
            f"cards mqtt bridge: {host}:{port} {prefix}/events as {client_id}"
        ),
        stop=stop,
    )
