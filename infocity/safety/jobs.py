"""Periodic jobs of school video surveillance (run by ``infocity worker``)."""

from __future__ import annotations

from datetime import timedelta

from infocity.core.auth import SYSTEM
from infocity.core.jobs import periodic
from infocity.safety import service


@periodic("safety.fast_probes", every=timedelta(minutes=1), lease=timedelta(minutes=2))
def fast_probes() -> int:
    """TCP and RTSP probes of every camera; how many failed."""
    return service.run_fast_cycle(SYSTEM).failed


@periodic("safety.frame_checks", every=timedelta(minutes=10), lease=timedelta(minutes=20))
def frame_checks() -> int:
    """A frame of every camera, compared with the last; how many failed."""
    return service.run_frame_cycle(SYSTEM).failed


# Prompt: security staff hear of a camera down while a long check of every frame runs.
# Its service counts messages, not events, so it loops itself rather than by the batch.
@periodic("safety.fan_out", every=timedelta(seconds=5), prompt=True)
def fan_out() -> int:
    """Tell security staff of outages opened and closed (batches until none wait, up to ten)."""
    told = 0
    for _ in range(10):
        batch = service.fan_out_outage_events(SYSTEM)
        told += batch
        if not batch:
            break
    return told


@periodic("safety.device_information", every=timedelta(hours=1), lease=timedelta(minutes=20))
def device_information() -> int:
    """ONVIF device information of the cameras with credentials; how many could not be read."""
    return service.run_device_cycle(SYSTEM).failed
