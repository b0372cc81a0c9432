"""A resident's utilities in a real browser, on a desktop and a phone, in Russian and
English: the readings of every meter sent with one button; the bill's payment QR code
with the same sum as the bill; a request's own page where the resident adds a photo,
reopens the request the operator closed without a fix and rates the outcome. Playwright
drives Debian's Chromium against the app served by a real server process."""

from __future__ import annotations

from typing import Any

import pytest

from infocity.core.auth import SYSTEM, Role
from infocity.core.settings import get_settings
from infocity.housing import service
from infocity.housing.schemas import (
    BankDetailsCreate,
    ServiceRequestCreate,
    ServiceRequestUpdate,
)
from tests.builders import PASSWORD, make_staff
from tests.conftest import shared_server
from tests.housing_builders import make_apartment, make_meter, make_operator, resident, set_prices
from tests.support.browser import (
    ARTIFACTS,
    ON_EVERY_SCREEN,
    fits_the_screen,
    log_in,
    new_page,
    on_screen,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DETAILS = BankDetailsCreate(
    name="ГБУ «Жилищник района Арбат»",
    personal_account="40702810938000012345",
    bank_name="ПАО Сбербанк",
    bic="044525225",
    correspondent_account="30101810400000000225",
    inn="7707083893",
)
# The smallest bytes the photo check takes for a PNG.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _spaced(text: str) -> str:
    """The text with its no-break spaces (between thousands, before the currency) as spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@ON_EVERY_SCREEN
def test_all_meters_in_one_form_and_the_bill_paid_by_its_code(
    database: str, chromium: Any, settings_env: pytest.MonkeyPatch, viewport: dict[str, int]
) -> None:
    # A readings window from the 15th to the 14th of the next month: open every day.
    settings_env.setenv("INFOCITY_READINGS_WINDOW_START_DAY", "15")
    settings_env.setenv("INFOCITY_READINGS_WINDOW_END_DAY", "14")
    get_settings.cache_clear()
    set_prices()
    operator = make_operator()
    service.set_operator_bank_details(SYSTEM, operator, DETAILS)
    apartment = make_apartment(operator, residents=2)
    make_meter(apartment.id, "cold_water")
    make_meter(apartment.id, "hot_water")
    make_meter(apartment.id, "electricity_day")
    anna = resident(apartment)
    service.generate_bills(SYSTEM, service.readings_window().period)
    width = viewport["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(page, base_url, anna.identifier, PASSWORD)
            page.goto(f"{base_url}/housing/apartments/{apartment.id}")
            fits_the_screen(page, width)
            form = page.locator("#readings-form")
            inputs = form.locator("input[name^=value-]")
            assert inputs.count() == 3
            for i, value in enumerate(("12,5", "7", "150")):
                inputs.nth(i).fill(value)
            assert form.get_by_role("button", name="Передать показания").count() == 1
            form.get_by_role("button", name="Передать показания").click()
            assert "сохранен" in page.locator("main").inner_text()
            for kind, shown in (
                ("Холодная вода", "12,5 м³"),
                ("Горячая вода", "7 м³"),
                ("Электроэнергия, день", "150 кВт·ч"),
            ):
                assert shown in page.locator("article.card", has_text=kind).inner_text()
            # Each meter now has a chart of its consumption, no wider than the screen.
            assert page.locator("article.card svg.chart").count() == 3
            fits_the_screen(page, width)

            page.goto(f"{base_url}/housing/apartments/{apartment.id}")
            page.locator("a[href^='/housing/bills/']").first.click()
            fits_the_screen(page, width)
            code = page.locator("figure.payment-qr svg")
            on_screen(code, width)
            box = code.bounding_box()
            assert box is not None
            assert box["width"] >= 150  # big enough for a phone's camera
            to_pay = page.locator("tfoot strong").inner_text()
            assert _spaced(page.locator("#qr-amount").inner_text()) == f"{_spaced(to_pay)} руб."
            assert "," in to_pay  # the Russian decimal comma
            assert "Отсканируйте QR-код" in page.locator("#payment").inner_text()
            page.screenshot(path=str(ARTIFACTS / f"bill-qr-{width}.png"), full_page=True)

            page.goto(f"{base_url}/lang/en?next={page.url.removeprefix(base_url)}")
            to_pay = page.locator("tfoot strong").inner_text()
            assert _spaced(page.locator("#qr-amount").inner_text()) == f"{_spaced(to_pay)} RUB"
            assert "." in to_pay
            assert "Scan the QR code" in page.locator("#payment").inner_text()
            fits_the_screen(page, width)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser-utilities-failure.png"), full_page=True)
        raise


@ON_EVERY_SCREEN
def test_a_request_page_with_a_photo_reopened_and_rated(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    operator = make_operator()
    apartment = make_apartment(operator)
    anna = resident(apartment)
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    filed = service.file_request(
        anna.principal,
        ServiceRequestCreate(
            service_code="heating", apartment_id=apartment.id, description="Холодные батареи"
        ),
    )

    def close(note: str) -> None:
        for status in ("acknowledged", "closed"):
            service.update_request_status(
                staff.principal,
                filed.id,
                ServiceRequestUpdate(status=status, note=note if status == "closed" else None),
            )

    width = viewport["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(page, base_url, anna.identifier, PASSWORD)
            page.goto(f"{base_url}/housing/requests/mine")
            fits_the_screen(page, width)
            page.locator(f"a[href='/housing/requests/{filed.id}']").click()
            assert page.locator("h1").inner_text().startswith(f"Заявка № {filed.id}")

            page.set_input_files(
                "#f-file", {"name": "radiator.png", "mimeType": "image/png", "buffer": PNG}
            )
            page.get_by_role("button", name="Добавить фотографию").click()
            history = page.locator("#history")
            assert "Добавлена фотография: radiator.png" in history.inner_text()
            assert page.locator("ul.photos img").count() == 1
            fits_the_screen(page, width)

            close("Радиатор прокачан")
            page.reload()
            assert page.locator("#status").inner_text() == "Выполнена"
            assert "Радиатор прокачан" in page.locator("#history").inner_text()
            page.fill("#f-reason", "Батареи снова холодные")
            page.get_by_role("button", name="Возобновить заявку").click()
            assert page.locator("#status").inner_text() == "Новая"
            history = page.locator("#history").inner_text()
            assert "Возобновлена жителем" in history
            assert "Батареи снова холодные" in history
            assert page.get_by_role("button", name="Оценить").count() == 0

            close("Заменили радиатор")
            page.reload()
            page.get_by_label("4", exact=True).check()
            page.get_by_role("button", name="Оценить").click()
            assert page.locator("#rating").inner_text() == "4 / 5"
            assert "Результат оценён: 4 из 5" in page.locator("#history").inner_text()
            assert page.get_by_role("button", name="Оценить").count() == 0
            fits_the_screen(page, width)
            page.screenshot(path=str(ARTIFACTS / f"housing-request-{width}.png"), full_page=True)

            page.goto(f"{base_url}/lang/en?next=/housing/requests/{filed.id}")
            assert page.locator("h1").inner_text().startswith(f"Request No. {filed.id}")
            history = page.locator("#history").inner_text()
            for words in ("Photo added: radiator.png", "Reopened by the citizen", "4 of 5"):
                assert words in history
            assert page.locator("#status").inner_text() == "Resolved"
            fits_the_screen(page, width)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser-request-failure.png"), full_page=True)
        raise
