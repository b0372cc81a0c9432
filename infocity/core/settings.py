"""Process settings, read once from the environment (prefix ``INFOCITY_``).

Any setting may instead come from a file named by ``INFOCITY_<NAME>_FILE`` so that
secrets can be mounted rather than put in the environment.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-only-change-me"  # noqa: S105 - refused outside development
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INFOCITY_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{PROJECT_ROOT / 'var' / 'infocity.db'}"
    )
    secret_key: str = PLACEHOLDER_SECRET
    city_timezone: str = "Europe/Moscow"
    default_locale: Literal["ru", "en"] = "ru"
    base_url: str = "http://127.0.0.1:8000"
    secure_cookies: bool = False
    session_days: int = 14
    # Threads per server process running the synchronous endpoints (anyio's default is
    # 40): a few more than the database connections a process uses at once is enough, and
    # fewer threads fight less for the GIL under a rush of clients.
    web_threads: int = Field(12, ge=1, le=200)
    # Threads per server process that run bookings (web.deps.run_booking). One: a booking
    # is about a millisecond of CPU and five round trips to the database, and several
    # booking threads in one process lose more to the GIL than they gain by overlapping
    # their waits (docs/benchmarks.md). Scale bookings with processes, not threads.
    booking_threads: int = Field(1, ge=1, le=50)
    # Group commit of kiosk bookings (health.service.batch_booking): on PostgreSQL each
    # process books the requests that arrive within this many milliseconds (up to the
    # size) in one transaction; in a release rush that answered more bookings a second
    # than booking each alone, at 16 and at 64 clients (docs/benchmarks.md, section 2).
    # 0: every booking alone. SQLite always books them alone.
    booking_batch_window_ms: float = Field(2, ge=0, le=50)
    booking_batch_size: int = Field(32, ge=1, le=256)
    # Batches of one process booked at once, each on its own thread and connection: a
    # batch waiting on a slot another process's batch has locked does not stall the rest.
    booking_batch_lanes: int = Field(3, ge=1, le=20)
    # Request bodies above this many bytes are refused (413) before they are read; the
    # upload routes (attachments of 5 MB and a multipart envelope) take max_upload_bytes.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(6 * 1024 * 1024, ge=1024)
    # Password hashes computed at once per process: argon2 takes 64 MiB each, so a burst of
    # registrations or log-ins queues here instead of eating the server's memory.
    password_hash_concurrency: int = Field(2, ge=1, le=64)

    # Outgoing messages.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "InfoCity <no-reply@infocity.local>"
    # SMS through Kannel: smsbox's sendsms URL (http://host:13013/cgi-bin/sendsms), the
    # sendsms-user it knows us by, and the sender name phones show. Without a URL an SMS
    # goes to the recipient's in-app inbox.
    sms_gateway_url: str | None = None
    sms_gateway_username: str | None = None
    sms_gateway_password: str | None = None
    # A name of up to 11 Latin letters and digits, or a number: what phone networks carry.
    sms_sender: str = Field("InfoCity", pattern=r"^(\+?[0-9]{1,15}|[A-Za-z0-9 .-]{1,11})$")
    # Where smsbox reaches InfoCity with delivery reports, when not at base_url (an address
    # on the internal network, say).
    sms_report_base_url: str | None = None
    # The demo mailbox: e-mail and SMS are kept for the page /demo/mailbox instead of being
    # sent, so a demo can be used without a mail server. On by default in development,
    # refused in production (it shows everyone's messages, reset links included).
    demo_mailbox: bool | None = None
    webhook_secret: str = PLACEHOLDER_SECRET
    # Channels a citizen's notification goes to when they have the contact for it.
    citizen_channels: str = "inbox,email"

    # Worker.
    worker_batch_size: int = 50
    worker_poll_seconds: float = 1.0
    worker_lease_seconds: int = 60
    delivery_max_attempts: int = 8
    delivery_backoff_seconds: float = 30.0
    delivery_timeout_seconds: float = 10.0  # SMTP, webhook and SMS gateway calls
    outbox_retention_days: int = 30  # sent messages older than this are purged
    # Extra modules whose @periodic jobs the worker runs (comma-separated import paths).
    job_modules: str = ""
    # Port of the worker's Prometheus endpoint; None: no endpoint.
    worker_metrics_port: int | None = None
    # Address it listens on: this machine only unless an operator opens it.
    worker_metrics_host: str = "127.0.0.1"
    # Bearer token a scraper must send to /metrics; without one, production serves
    # /metrics only to clients on this machine (docs/architecture.md, "Operations").
    metrics_token: str | None = None

    # Rate limits: attempts per window. Log-ins count per account and address, so that
    # failures from one address never lock the owner out from another.
    login_attempts_per_15min: int = 10
    registrations_per_hour: int = 10  # per address
    reset_requests_per_hour: int = 5
    lookups_per_minute: int = 30

    # Medical appointments.
    # Where the worker writes the SMART Scheduling Links files (FHIR ``$bulk-publish``)
    # once a period and the app sends them from: a directory every app process and the
    # worker see. None: each request writes the file as it is read (docs/fhir.md).
    fhir_publication_dir: str | None = None
    no_show_limit: int = 3  # missed appointments within the window that suspend self-booking
    no_show_window_days: int = 365
    no_show_suspension_days: int = 30
    waitlist_hold_minutes: int = 15  # how long a freed time is kept for the waiting list
    kindergarten_offer_days: int = 7  # a place offered and not accepted returns after this
    reminder_offsets_hours: str = "24,2"  # reminders this many hours before (comma-separated)

    # Housing and utilities.
    readings_window_start_day: int = Field(15, ge=1, le=28)  # a month's readings open on
    readings_window_end_day: int = Field(3, ge=1, le=28)  # ...and close on this day (next month)
    # A reading whose consumption exceeds norm x residents x this factor needs confirming.
    readings_confirm_factor: float = Field(3.0, gt=0)
    apartment_link_attempts_per_hour: int = 10  # payer codes are guessable: limit the tries
    # A TTF font with Cyrillic for PDF bills; None: DejaVu Sans or Liberation Sans from the
    # system (Debian's fonts-dejavu-core), whichever is found first.
    pdf_font_path: str | None = None

    # Students' social cards: the Ed25519 private key (the 32-byte seed, base64) that signs
    # the daily stop-list. None: derived from secret_key, so a development city signs
    # without setup; set its own (or INFOCITY_SOCIAL_CARD_SIGNING_KEY_FILE) so that the
    # validators' published key survives a change of secret_key.
    social_card_signing_key: str | None = None
    # How long a validator may reuse an eligibility answer without asking again.
    social_card_eligibility_max_age: int = Field(60, ge=0, le=86400)
    # School video surveillance (docs/safety.md).
    # Fernet keys for camera credentials, comma-separated: the first encrypts, all decrypt.
    safety_credential_keys: str | None = None
    safety_failures_to_open: int = Field(3, ge=1, le=100)  # failed probes in a row: outage
    safety_successes_to_close: int = Field(2, ge=1, le=100)  # good probes in a row: closed
    safety_probe_timeout_seconds: float = Field(3.0, gt=0, le=60)  # TCP + RTSP, per camera
    safety_probe_concurrency: int = Field(256, ge=1, le=10_000)
    safety_frame_timeout_seconds: float = Field(8.0, gt=0, le=120)  # ffmpeg, killed after
    safety_frame_concurrency: int = Field(4, ge=1, le=64)  # ffmpeg processes at once
    # Cameras whose frame one slow cycle reads, those checked longest ago first: a frame is
    # seconds of waiting, so the city's cameras are covered over several cycles.
    safety_frame_batch: int = Field(300, ge=1, le=100_000)
    # Cameras with credentials and an ONVIF address asked for their device information in
    # one round (those asked longest ago first).
    safety_device_batch: int = Field(1000, ge=1, le=100_000)

    @model_validator(mode="before")
    @classmethod
    def _read_file_secrets(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in cls.model_fields:
            path = os.environ.get(f"INFOCITY_{name.upper()}_FILE")
            if path and name not in data:
                data[name] = Path(path).read_text(encoding="utf-8").strip()
        return data

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "production":
            for name in ("secret_key", "webhook_secret"):
                value = getattr(self, name)
                if value == PLACEHOLDER_SECRET or len(value) < 32:
                    raise ValueError(
                        f"INFOCITY_{name.upper()} must be set to a random value of at least "
                        "32 characters in production"
                    )
            if not self.secure_cookies:
                # A session cookie sent over plain HTTP can be read on the way.
                raise ValueError(
                    "INFOCITY_SECURE_COOKIES must be true in production (serve it over HTTPS)"
                )
            if self.demo_mailbox:
                raise ValueError(
                    "INFOCITY_DEMO_MAILBOX cannot be on in production: the page shows every "
                    "outgoing message to anyone"
                )
        if self.sms_gateway_url and not (self.sms_gateway_username and self.sms_gateway_password):
            # Kannel refuses every sendsms without them: say so at start, not per SMS.
            raise ValueError(
                "INFOCITY_SMS_GATEWAY_USERNAME and INFOCITY_SMS_GATEWAY_PASSWORD must be set "
                "with INFOCITY_SMS_GATEWAY_URL (the sendsms-user of Kannel's smsbox)"
            )
        try:
            ZoneInfo(self.city_timezone)  # fail at start-up, not at the first schedule
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.city_timezone!r}") from exc
        return self

    @property
    def city_tz(self) -> ZoneInfo:
        return ZoneInfo(self.city_timezone)

    @property
    def demo_mailbox_on(self) -> bool:
        """Whether e-mail and SMS go to the demo mailbox page instead of out."""
        if self.demo_mailbox is None:
            return self.environment == "development"
        return self.demo_mailbox

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def base_url_mismatch(base_url: str, host: str, port: int) -> str | None:
    """Why links built on ``base_url`` would not reach a server on ``host:port``, or None.

    Only a base URL naming this machine is checked: a public name is normally a proxy
    in front of the server, on its own port.
    """
    parsed = urlsplit(base_url)
    base_host = (parsed.hostname or "").lower()
    if base_host not in _LOCAL_HOSTS and base_host != host.lower():
        return None
    base_port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if base_port != port:
        return f"INFOCITY_BASE_URL {base_url} names port {base_port}, the server listens on {port}"
    listening_locally = host in ("0.0.0.0", "::") or host.lower() in _LOCAL_HOSTS  # noqa: S104
    if base_host in _LOCAL_HOSTS and not listening_locally:
        return f"INFOCITY_BASE_URL {base_url} names this machine, the server listens on {host}"
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
