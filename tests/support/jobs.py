"""Test-only periodic jobs with a one-second period (``INFOCITY_JOB_MODULES``): one
ordinary, one prompt.

Each run of the ordinary one appends a line to the file named by
``INFOCITY_TEST_JOB_LOG`` and lingers a little, to widen the window in which a second
worker could wrongly run it too.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from infocity.core.jobs import periodic


@periodic("test.tick", every=timedelta(seconds=1), lease=timedelta(seconds=5))
def tick() -> None:
    """Record one run."""
    path = os.environ.get("INFOCITY_TEST_JOB_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
    time.sleep(0.2)


@periodic("test.prompt_tick", every=timedelta(seconds=1), lease=timedelta(seconds=5), prompt=True)
def prompt_tick() -> None:
    """A prompt job that does nothing: its runs are what a test looks at."""
