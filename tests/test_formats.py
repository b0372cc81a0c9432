"""Numbers and dates follow the page's language: "8 573,84 руб." and "365,5 м³" in
Russian, "8,573.84 RUB" and "365.5 m³" in English, and one way to write a date in each."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from infocity.core import i18n
from infocity.core.auth import SYSTEM
from infocity.core.settings import get_settings
from infocity.core.templating import environment
from infocity.housing import service
from tests.builders import csrf_token, login_page_client, make_citizen
from tests.housing_builders import make_apartment, make_meter, make_operator, set_prices

NBSP = "\xa0"
NNBSP = "\u202f"  # CLDR's narrow no-break space before "г."
# Dates as some pages wrote them before: 30.11.2026, 11/30/26, 2026-11-30.
OTHER_DATE_SHAPES = re.compile(
    r"\b\d\d\.\d\d\.\d{4}\b|\b\d{1,2}/\d{1,2}/\d\d\b|\b\d{4}-\d\d-\d\d\b"
)


def _render(source: str, locale: str, **values: object) -> str:
    with i18n.use_locale(locale):
        return environment().from_string(source).render(**values)


@pytest.mark.parametrize(
    ("locale", "money", "quantity", "amount"),
    [
        ("ru", f"8{NBSP}573,84{NBSP}руб.", "365,5", f"12{NBSP}345,60"),
        ("en", f"8,573.84{NBSP}RUB", "365.5", "12,345.60"),
    ],
)
def test_filters_write_numbers_in_the_language(
    locale: str, money: str, quantity: str, amount: str
) -> None:
    assert _render("{{ v|money }}", locale, v=Decimal("8573.84")) == money
    assert _render("{{ v|quantity }}", locale, v=Decimal("365.500")) == quantity
    assert _render("{{ v|amount }}", locale, v=Decimal("12345.6")) == amount


@pytest.mark.parametrize(
    ("locale", "day", "moment", "month"),
    [
        ("ru", f"30 ноября 2026{NNBSP}г.", f"30 ноября 2026{NNBSP}г., 10:05", "ноябрь 2026"),
        ("en", "November 30, 2026", "November 30, 2026, 10:05", "November 2026"),
    ],
)
def test_one_date_format_per_language(locale: str, day: str, moment: str, month: str) -> None:
    # 07:05 UTC is 10:05 in the city (Moscow, no daylight saving time).
    instant = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)
    assert get_settings().city_timezone == "Europe/Moscow"
    assert _render("{{ v|day }}", locale, v=date(2026, 11, 30)) == day
    assert _render("{{ v|day }}", locale, v=instant) == day
    assert _render("{{ v|moment }}", locale, v=instant) == moment
    assert _render("{{ v|month }}", locale, v=date(2026, 11, 1)) == month
    # Babel's named styles, used across the pages, give the same date-and-time.
    for style in ("short", "medium"):
        assert _render("{{ format_datetime(v, s) }}", locale, v=instant, s=style) == moment
    # The appointments' "when" too.
    when = _render('{% import "health/_health.html" as h %}{{ h.when(v) }}', locale, v=instant)
    assert when == moment


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_housing_pages_write_numbers_and_dates_in_the_language(
    client: TestClient, always_open: None
) -> None:
    set_prices()
    apartment = make_apartment(make_operator(), residents=1)
    meter = make_meter(apartment.id, "cold_water", initial_value=Decimal(360))
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)
    token = csrf_token(client, "/housing")
    client.post(
        "/housing/link",
        data={"payer_code": apartment.payer_code, "number": apartment.number, "csrf_token": token},
    )
    saved = client.post(
        f"/housing/apartments/{apartment.id}/readings",
        data={f"value-{meter.id}": "365,5", "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    service.generate_bills(SYSTEM, service.readings_window().period)

    page = client.get(f"/housing/apartments/{apartment.id}")
    ru = _text(page.text)
    assert "365,5 м³" in ru
    assert "365.5" not in ru
    debt = re.search(r'<dd id="debt">([^<]*)</dd>', page.text)
    assert debt, "a bill was issued, so there is a debt"
    assert re.fullmatch(rf"\d{{1,3}}({NBSP}\d{{3}})*,\d\d{NBSP}руб\.", debt.group(1))
    assert f"1 января 2030{NNBSP}г." in ru  # the meter's verification date
    assert not OTHER_DATE_SHAPES.search(ru)
    bill_path = re.search(r'href="(/housing/bills/\d+)"', page.text)
    assert bill_path
    bill = _text(client.get(bill_path.group(1)).text)
    assert re.search(r"\d,\d\d\b", bill)
    assert not re.search(r"\d\.\d\d\b", bill)

    client.cookies.set("lang", "en")
    page = client.get(f"/housing/apartments/{apartment.id}")
    en = _text(page.text)
    assert "365.5 m³" in en
    debt = re.search(r'<dd id="debt">([^<]*)</dd>', page.text)
    assert debt
    assert re.fullmatch(rf"\d{{1,3}}(,\d{{3}})*\.\d\d{NBSP}RUB", debt.group(1))
    assert "January 1, 2030" in en
    assert not OTHER_DATE_SHAPES.search(en)
    bill = _text(client.get(bill_path.group(1)).text)
    assert re.search(r"\d\.\d\d\b", bill)
    assert not re.search(r"\d,\d\d\b", bill)
