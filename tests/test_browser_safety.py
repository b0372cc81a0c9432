"""A school's security guard sees, in a real browser, the outage of a camera of the
building they guard, and then its close (Chromium driven by Playwright against a real
server process; the probe outcomes are recorded as the worker's cycle records them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from infocity.core.auth import SYSTEM
from infocity.core.worker import Worker
from infocity.safety import jobs, service
from infocity.safety.probes import ProbeOutcome
from infocity.safety.rules import ProbeStatus
from tests.builders import PASSWORD
from tests.conftest import shared_server
from tests.safety_builders import one_guarded_building
from tests.support.browser import ARTIFACTS, DESKTOP, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _probes(camera_ids: dict[str, int], closed: ProbeStatus, minutes: range) -> None:
    for minute in minutes:
        service.record_probe_results(
            SYSTEM,
            [
                ProbeOutcome(camera_ids["K-1"], ProbeStatus.OK),
                ProbeOutcome(camera_ids["K-2"], closed),
            ],
            now=T0 + timedelta(minutes=minute),
        )


def test_security_staff_see_their_buildings_outage_and_its_close(
    database: str, chromium: Any
) -> None:
    building, guard, ids = one_guarded_building(
        {"K-1": "rtsp://192.0.2.10/stream", "K-2": "rtsp://192.0.2.11/stream"}
    )
    _probes(ids, ProbeStatus.REFUSED, range(3))  # three failures in a row open it
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, DESKTOP)
    with shared_server(database, 1) as base_url:
        log_in(page, base_url, guard.identifier, PASSWORD)
        page.goto(f"{base_url}/safety")
        outages = page.locator("#outages").inner_text()
        assert "K-2" in outages
        assert building.address in outages
        page.get_by_role("link", name=building.address).first.click()
        expect(page.locator("tr.outage.open")).to_have_count(1)
        assert "Порт закрыт" in page.locator("#cameras").inner_text()
        page.screenshot(path=str(ARTIFACTS / "safety-outage.png"), full_page=True)
        # The worker tells the guard once: one message in the inbox.
        jobs.fan_out()
        Worker("test").deliver_due()
        page.goto(f"{base_url}/inbox")
        expect(page.locator("main table a")).to_have_count(1)
        expect(page.locator("main table")).to_contain_text("K-2")

        _probes(ids, ProbeStatus.OK, range(3, 5))  # two good probes close it
        page.goto(f"{base_url}/safety/buildings/{building.id}")
        expect(page.locator("tr.outage.open")).to_have_count(0)
        expect(page.locator("tr.outage.closed")).to_have_count(1)
        page.goto(f"{base_url}/safety")
        expect(page.locator("#no-outages")).to_be_visible()
        jobs.fan_out()  # and once more when it closes
        Worker("test").deliver_due()
        page.goto(f"{base_url}/inbox")
        expect(page.locator("main table a")).to_have_count(2)
