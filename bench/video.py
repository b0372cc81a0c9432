"""``bench video``: a full fast probe cycle of the city's cameras, and the frame-check
cycle, against GStreamer's RTSP server on loopback (``deploy/rtsp_test_server.py
--shared``: thousands of mount points, one encoder per kind), with closed ports and
silent hosts.

Silent hosts live in a network namespace the benchmark makes (``ip netns``, as root): a
veth pair to an address whose TCP listener accepts and never answers, so every timeout
is a real one across an interface. Without root it falls back to a silent listener on
loopback and says so (as the smoke test does).

``run`` measures the probe layer alone (``infocity.safety.probes``): the wall time of a
cycle and the CPU of the prober, of ffmpeg and of the RTSP server.

``run_city`` does what the worker does with the synthetic city's cameras in its database
(``infocity.analytics.synthetic.video``): each full fast cycle reads the targets, probes
them and records the outcomes (the status history, health, outages and their events, one
transaction of bulk statements), then the worker's fan-out tells the guards, then a
frame-check cycle over a sample is probed and recorded. The cameras' addresses on the
city's network are mapped, in memory, to mount points of the loopback server, a closed
port and the silent host.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.env import ROOT, use_database
from infocity.safety import probes

NAMESPACE = "infocity-bench-video"
HOST_SIDE, NS_SIDE = "icbv0", "icbv1"
HOST_ADDR, NS_ADDR = "10.213.77.1", "10.213.77.2"
SILENT_PORT = 554
SILENT_LISTENER = (
    "import socket, time\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    f"s.bind(('{NS_ADDR}', {SILENT_PORT})); s.listen(4096)\n"
    "print('READY', flush=True)\n"
    "while True: time.sleep(3600)\n"
)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ready(process: subprocess.Popen[str], timeout: float = 120.0) -> str:
    """The process's first line (READY …), within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    buffer = ""
    while time.monotonic() < deadline:
        chunk = process.stdout.readline()
        buffer += chunk or ""
        if buffer.endswith("\n"):
            return buffer.strip()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"did not start: {buffer!r}")


@contextlib.contextmanager
def rtsp_server(mounts: int) -> Iterator[tuple[int, int]]:
    """The RTSP server's port and process id, serving ``/cam0`` .. and ``/frozen``."""
    process = subprocess.Popen(
        [
            "/usr/bin/python3",
            str(ROOT / "deploy" / "rtsp_test_server.py"),
            "--port",
            "0",
            "--count",
            str(mounts),
            "--mounts",
            "frozen",
            "--shared",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = _ready(process)
        yield int(line.split()[1]), process.pid
    finally:
        process.kill()
        process.wait()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def silent_hosts(namespace: bool = True) -> Iterator[tuple[str, str]]:
    """(address, how): a host in a network namespace that accepts and never answers."""
    if not namespace or os.geteuid() != 0 or shutil.which("ip") is None:
        with socket.socket() as quiet:
            quiet.bind(("127.0.0.1", 0))
            quiet.listen(4096)
            yield f"127.0.0.1:{quiet.getsockname()[1]}", "loopback listener"
        return
    with contextlib.suppress(subprocess.CalledProcessError):
        _ip("netns", "delete", NAMESPACE)
    _ip("netns", "add", NAMESPACE)
    listener: subprocess.Popen[str] | None = None
    try:
        _ip("link", "add", HOST_SIDE, "type", "veth", "peer", "name", NS_SIDE)
        _ip("link", "set", NS_SIDE, "netns", NAMESPACE)
        _ip("addr", "add", f"{HOST_ADDR}/30", "dev", HOST_SIDE)
        _ip("link", "set", HOST_SIDE, "up")
        _ip("-n", NAMESPACE, "addr", "add", f"{NS_ADDR}/30", "dev", NS_SIDE)
        _ip("-n", NAMESPACE, "link", "set", NS_SIDE, "up")
        _ip("-n", NAMESPACE, "link", "set", "lo", "up")
        listener = subprocess.Popen(
            ["ip", "netns", "exec", NAMESPACE, "/usr/bin/python3", "-c", SILENT_LISTENER],
            stdout=subprocess.PIPE,
            text=True,
        )
        _ready(listener, 10)
        yield f"{NS_ADDR}:{SILENT_PORT}", f"network namespace {NAMESPACE}"
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "delete", HOST_SIDE)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "delete", NAMESPACE)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def targets(
    cameras: int, port: int, silent: str, *, closed_share: float, silent_share: float
) -> list[probes.ProbeTarget]:
    """The city's cameras: most streams good, some ports closed, some hosts silent."""
    closed_every = round(1 / closed_share) if closed_share else 0
    silent_every = round(1 / silent_share) if silent_share else 0
    closed = _closed_port()
    made = []
    for n in range(cameras):
        if silent_every and n % silent_every == 1:
            url = f"rtsp://{silent}/cam{n}"
        elif closed_every and n % closed_every == 0:
            url = f"rtsp://127.0.0.1:{closed}/cam{n}"
        else:
            url = f"rtsp://127.0.0.1:{port}/cam{n}"
        made.append(probes.ProbeTarget(n + 1, url))
    return made


def run(
    *,
    cameras: int,
    concurrency: int,
    timeout: float,
    frame_sample: int,
    frame_concurrency: int,
    frame_timeout: float,
    closed_share: float = 0.01,
    silent_share: float = 0.01,
    namespace: bool = True,
) -> dict[str, Any]:
    """One fast cycle over ``cameras`` and a frame cycle over ``frame_sample`` of them."""
    with silent_hosts(namespace) as (silent, how), rtsp_server(cameras) as (port, server_pid):
        plan = targets(cameras, port, silent, closed_share=closed_share, silent_share=silent_share)
        server_cpu, self_cpu = _cpu_seconds(server_pid), _self_cpu()
        started = time.monotonic()
        fast = probes.probe_streams(plan, concurrency=concurrency, timeout=timeout)
        fast_seconds = time.monotonic() - started
        fast_cpu = _self_cpu() - self_cpu
        fast_server_cpu = _cpu_seconds(server_pid) - server_cpu

        sample = plan[:frame_sample]
        server_cpu, children_cpu = _cpu_seconds(server_pid), _children_cpu()
        started = time.monotonic()
        frames = probes.grab_frames(sample, concurrency=frame_concurrency, timeout=frame_timeout)
        frame_seconds = time.monotonic() - started
        frame_ffmpeg_cpu = _children_cpu() - children_cpu
        frame_server_cpu = _cpu_seconds(server_pid) - server_cpu
    per_frame = frame_seconds / max(len(sample), 1)
    return {
        "cameras": cameras,
        "silent_hosts": how,
        "concurrency": concurrency,
        "probe_timeout_seconds": timeout,
        "fast_cycle_seconds": round(fast_seconds, 2),
        "fast_cycle_prober_cpu_seconds": round(fast_cpu, 2),
        "fast_cycle_rtsp_server_cpu_seconds": round(fast_server_cpu, 2),
        "fast_outcomes": dict(Counter(o.status.value for o in fast)),
        "frame_sample": len(sample),
        "frame_concurrency": frame_concurrency,
        "frame_cycle_sample_seconds": round(frame_seconds, 2),
        "frame_cycle_ffmpeg_cpu_seconds": round(frame_ffmpeg_cpu, 2),
        "frame_cycle_rtsp_server_cpu_seconds": round(frame_server_cpu, 2),
        "frame_outcomes": dict(Counter(o.status.value for o in frames)),
        "frame_cycle_all_cameras_seconds_estimate": round(per_frame * cameras, 0),
        "limit_seconds": 60,
    }


def _city_targets(
    found: list[probes.ProbeTarget],
    port: int,
    silent: str,
    *,
    closed_share: float,
    silent_share: float,
) -> list[probes.ProbeTarget]:
    """The city's cameras with their addresses on the bench's network, camera ids kept."""
    mapped = targets(len(found), port, silent, closed_share=closed_share, silent_share=silent_share)
    return [
        probes.ProbeTarget(t.camera_id, m.url, t.username, t.password)
        for t, m in zip(found, mapped, strict=True)
    ]


def run_city(
    *,
    cycles: int,
    frame_sample: int,
    closed_share: float = 0.01,
    silent_share: float = 0.01,
    namespace: bool = True,
) -> dict[str, Any]:
    """``cycles`` full fast cycles of the city's cameras, probed and recorded, the guards
    told, and one frame-check cycle over ``frame_sample`` of them (settings as the worker's)."""
    from infocity.core.auth import SYSTEM
    from infocity.core.settings import get_settings
    from infocity.safety import service

    settings = get_settings()
    figures: dict[str, Any] = {
        "concurrency": settings.safety_probe_concurrency,
        "probe_timeout_seconds": settings.safety_probe_timeout_seconds,
        "failures_to_open": settings.safety_failures_to_open,
        "limit_seconds": 60,
    }
    found = service.probe_targets(SYSTEM)
    if not found:
        raise RuntimeError("the database has no cameras: load the synthetic city first")
    figures["cameras"] = len(found)
    runs: list[dict[str, Any]] = []
    with silent_hosts(namespace) as (silent, how), rtsp_server(len(found)) as (port, pid):
        figures["silent_hosts"] = how
        for _ in range(cycles):
            server_cpu, self_cpu, started = _cpu_seconds(pid), _self_cpu(), time.monotonic()
            plan = _city_targets(
                service.probe_targets(SYSTEM), port, silent,
                closed_share=closed_share, silent_share=silent_share,
            )  # fmt: skip
            outcomes = probes.probe_streams(
                plan,
                concurrency=settings.safety_probe_concurrency,
                timeout=settings.safety_probe_timeout_seconds,
            )
            probed, probe_cpu = time.monotonic(), _self_cpu()
            cycle = service.record_probe_results(SYSTEM, outcomes)
            done = time.monotonic()
            runs.append(
                {
                    "seconds": round(done - started, 2),
                    "probe_seconds": round(probed - started, 2),
                    "record_seconds": round(done - probed, 2),
                    "cpu_seconds": round(_self_cpu() - self_cpu, 2),
                    "record_cpu_seconds": round(_self_cpu() - probe_cpu, 2),
                    "rtsp_server_cpu_seconds": round(_cpu_seconds(pid) - server_cpu, 2),
                    "outcomes": dict(Counter(o.status.value for o in outcomes)),
                    "outages_opened": cycle.outages_opened,
                }
            )
        started = time.monotonic()
        told = 0
        while batch := service.fan_out_outage_events(SYSTEM):
            told += batch
        figures["fan_out"] = {"messages": told, "seconds": round(time.monotonic() - started, 2)}

        server_cpu, children_cpu, started = _cpu_seconds(pid), _children_cpu(), time.monotonic()
        sample = _city_targets(
            service.probe_targets(SYSTEM, frames=frame_sample), port, silent,
            closed_share=closed_share, silent_share=silent_share,
        )  # fmt: skip
        frames = probes.grab_frames(
            sample,
            concurrency=settings.safety_frame_concurrency,
            timeout=settings.safety_frame_timeout_seconds,
        )
        grabbed = time.monotonic()
        service.record_probe_results(SYSTEM, frames, frame_check=True)
        done = time.monotonic()
        figures["frame_cycle"] = {
            "sample": len(sample),
            "ffmpeg_at_once": settings.safety_frame_concurrency,
            "seconds": round(done - started, 2),
            "record_seconds": round(done - grabbed, 2),
            "ffmpeg_cpu_seconds": round(_children_cpu() - children_cpu, 2),
            "rtsp_server_cpu_seconds": round(_cpu_seconds(pid) - server_cpu, 2),
            "outcomes": dict(Counter(o.status.value for o in frames)),
            "all_cameras_seconds_estimate": round((done - started) / len(sample) * len(found)),
        }
    figures["fast_cycles"] = runs
    return figures


# The generator's row functions of the schools' directory and of the video part: all
# ``run_city`` needs, loaded without the residents, the polyclinics and their slots.
VIDEO_ROWS = frozenset(
    {
        "education_organisation_rows", "school_rows", "school_building_rows",
        "guard_user_rows", "guard_role_rows", "safety_building_rows", "building_staff_rows",
        "safety_camera_rows",
    }
)  # fmt: skip


@contextlib.contextmanager
def video_city(scale: float, seed: int) -> Iterator[dict[str, Any]]:
    """A throwaway database with the synthetic city's schools and its video part at
    ``scale`` (the same rows the whole city has, by the same loader); the load report."""
    import psycopg

    from infocity.analytics.loader import load_city, plan_city
    from infocity.core import migrate
    from tests.support.postgres import throwaway_cluster

    with throwaway_cluster() as admin:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute('CREATE DATABASE "infocity_bench_video"')
        url = admin.rsplit("/", 1)[0] + "/infocity_bench_video"
        use_database(url)
        migrate.upgrade(url)
        city = plan_city(scale, seed)
        tables = [t for t in city.tables() if getattr(t.rows, "__name__", "") in VIDEO_ROWS]
        setattr(city, "tables", lambda: tables)  # noqa: B010 - this load only
        yield load_city(scale, seed, city=city).as_dict()
