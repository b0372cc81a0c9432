"""On a phone a person at a metro hotspot walks the captive portal in a real browser:
the phone number, the code read from the SMS that Kannel's fake SMSC received (the
outbox worker sends it through Kannel as in the city), bound; a real FreeRADIUS then
accepts that device's MAC and rejects an unknown one (PostgreSQL: the RADIUS
deployment's database)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infocity.core.settings import get_settings
from infocity.core.worker import Worker
from tests.conftest import shared_server
from tests.connectivity_builders import make_wifi_city
from tests.support.browser import ARTIFACTS, PHONE, new_page
from tests.support.kannel import Kannel
from tests.support.radius import radclient, require_freeradius, running_freeradius

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAC = "3C:22:FB:12:34:56"
UNKNOWN = "3C:22:FB:65:43:21"


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_rider_connects_on_a_phone_and_freeradius_lets_the_device_in(
    database: str, chromium: Any, kannel: Kannel, settings_env: pytest.MonkeyPatch
) -> None:
    require_freeradius()
    city = make_wifi_city(hotspots=1, nas_address="127.0.0.1")
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, PHONE)
    with shared_server(database, 1) as base_url:
        # Where the controller's redirect sends a new device.
        page.goto(f"{base_url}/wifi/portal?mac={MAC}&hotspot={city.nas}")
        page.fill("#f-phone", "8 916 123-45-67")
        page.get_by_role("button", name="Получить код").click()
        page.locator("#f-code").wait_for()
        assert "+7916 ***-**-67" in page.locator("main").inner_text()
        # The worker sends the SMS through Kannel; the phone reads the code in it.
        for name, value in kannel.environment().items():
            settings_env.setenv(name, value)
        get_settings.cache_clear()
        assert Worker("test").deliver_due() >= 1
        (sms,) = kannel.wait_for("+79161234567")
        code = re.search(r"\b\d{6}\b", sms)
        assert code is not None, sms
        page.fill("#f-code", code.group())
        page.get_by_role("button", name="Подключиться").click()
        page.locator("#wifi-bound").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        page.screenshot(path=str(ARTIFACTS / "wifi-portal-phone.png"), full_page=True)

    def access(mac: str) -> str:
        return radclient(
            radius.auth_port,
            "auth",
            city.secret,
            {
                "User-Name": mac,
                "User-Password": mac,
                "Calling-Station-Id": mac,
                "NAS-Identifier": city.nas,
            },
        ).code

    with running_freeradius(database, probe=(city.nas, city.secret)) as radius:
        assert access(MAC) == "Access-Accept", radius.log()
        assert access(UNKNOWN) == "Access-Reject"
