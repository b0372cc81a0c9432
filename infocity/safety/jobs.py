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
