"""The bill's payment QR code (GOST R 56042-2014): the operator's bank details, checked
when set; the code's text; the page and the PDF carrying the same code and amount; and
the note that replaces the code when the operator has given no details."""

from __future__ import annotations

import html
import re
import zlib
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infocity.cli import app
from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import Forbidden, InvalidFields
from infocity.core.i18n import format_amount, format_money, use_locale
from infocity.housing import qr, rules, service
from infocity.housing.pdf import bill_pdf
from infocity.housing.schemas import BankDetailsCreate
from tests.builders import csrf_token, login_page_client, make_citizen, make_staff
from tests.housing_builders import make_apartment, make_operator, resident, set_prices

MARCH = date(2026, 3, 1)
# Real-shaped details: Sberbank's BIC and correspondent account, an account whose key
# matches that BIC, and an INN with valid check digits.
DETAILS = BankDetailsCreate(
    name="ГБУ «Жилищник района Арбат»",
    personal_account="40702810938000012345",
    bank_name="ПАО Сбербанк",
    bic="044525225",
    correspondent_account="30101810400000000225",
    inn="7707083893",
)


def _payee() -> rules.PayeeDetails:
    return rules.PayeeDetails(**DETAILS.model_dump())


def test_payload_follows_the_standard() -> None:
    payload = rules.payment_qr_payload(
        _payee(),
        amount=Decimal("1234.56"),
        payer_code="7700000001",
        period=MARCH,
        purpose="Оплата ЖКУ | март",
    )
    assert payload == (
        "ST00012|Name=ГБУ «Жилищник района Арбат»|PersonalAcc=40702810938000012345"
        "|BankName=ПАО Сбербанк|BIC=044525225|CorrespAcc=30101810400000000225"
        "|PayeeINN=7707083893|Sum=123456|Purpose=Оплата ЖКУ март|PersAcc=7700000001"
        "|PaymPeriod=032026"
    )
    # Nothing owed: no sum, so a bank's app asks the payer for one.
    nothing = rules.payment_qr_payload(
        _payee(), amount=Decimal(0), payer_code="7700000001", period=MARCH, purpose="x"
    )
    assert "Sum=" not in nothing


def test_inn_and_account_keys() -> None:
    assert rules.inn_is_valid("7707083893")
    assert rules.inn_is_valid("500100732259")  # a person's 12 digits
    for bad in ("7707083894", "500100732258", "770708389", "77070838931", "77070838a3"):
        assert not rules.inn_is_valid(bad)
    assert rules.settlement_account_is_valid("40702810938000012345", "044525225")
    assert not rules.settlement_account_is_valid("40702810038000012345", "044525225")
    assert rules.correspondent_account_is_valid("30101810400000000225", "044525225")
    assert not rules.correspondent_account_is_valid("30101810400000000226", "044525225")
    assert rules.payee_problems(_payee()) == {}
    wrong = rules.PayeeDetails(
        name=" ",
        personal_account="40702810038000012345",
        bank_name="Банк",
        bic="04452522",
        correspondent_account="3010181040000000022",
        inn="7707083894",
    )
    # The account's key cannot be checked without a BIC: only the BIC is marked.
    assert set(rules.payee_problems(wrong)) == {"name", "bic", "correspondent_account", "inn"}


def test_details_are_checked_and_set_by_the_operators_staff(database: str) -> None:
    operator = make_operator()
    other = make_operator()
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    bad = DETAILS.model_copy(update={"inn": "7707083894", "bic": "044530226"})
    with pytest.raises(InvalidFields) as refused:
        service.set_operator_bank_details(staff.principal, operator, bad)
    assert {e.field for e in refused.value.errors} == {
        "inn",
        "personal_account",
        "correspondent_account",
    }
    with pytest.raises(Forbidden):
        service.set_operator_bank_details(staff.principal, other, DETAILS)
    saved = service.set_operator_bank_details(staff.principal, operator, DETAILS)
    assert saved.organisation_id == operator
    changed = service.set_operator_bank_details(
        staff.principal, operator, DETAILS.model_copy(update={"bank_name": "Сбербанк"})
    )
    assert changed.bank_name == "Сбербанк"


def _bill_of(apartment_id: int, owner_principal: object) -> int:
    overview = service.get_apartment_overview(owner_principal, apartment_id)  # type: ignore[arg-type]
    return overview.bills[0].id


def _drawn_squares(document: bytes) -> int:
    """Filled rectangles drawn in the PDF's page content (the QR code's dark modules)."""
    count = 0
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", document, re.DOTALL):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        count += len(re.findall(rb" re f\b", content))
    return count


@pytest.mark.parametrize("language", ["ru", "en"])
def test_page_and_pdf_carry_the_same_code_and_amount(client: TestClient, language: str) -> None:
    set_prices()
    operator = make_operator()
    service.set_operator_bank_details(SYSTEM, operator, DETAILS)
    apartment = make_apartment(operator, residents=2)
    service.generate_bills(SYSTEM, MARCH)
    owner = resident(apartment)
    bill = service.get_bill(owner.principal, _bill_of(apartment.id, owner.principal))
    kopecks = int(bill.to_pay * 100)
    assert kopecks > 0
    assert bill.payment_qr is not None
    assert f"|Sum={kopecks}|" in bill.payment_qr
    assert f"|PersAcc={apartment.payer_code}|PaymPeriod=032026" in bill.payment_qr

    login_page_client(client, owner.identifier, owner.password)
    page = client.get(f"/housing/bills/{bill.id}", headers={"Accept-Language": language})
    assert page.status_code == 200
    shown = html.unescape(page.text)
    assert bill.payment_qr in shown  # the code's text under the code
    assert str(qr.svg(bill.payment_qr, title="x")).split("<path", 1)[1] in page.text
    # The sum under the code in the page's language, as the bill's own total shows it.
    with use_locale(language):
        assert f'<dd id="qr-amount">{format_money(bill.to_pay)}</dd>' in page.text
        assert f"<strong>{format_amount(bill.to_pay)}</strong>" in page.text
    scan = "Отсканируйте QR-код" if language == "ru" else "Scan the QR code"
    assert scan in page.text

    with use_locale(language):
        document = bill_pdf(bill)
    assert f"to pay {bill.to_pay:.2f}".encode() in document
    dark = sum(sum(row) for row in qr.modules(bill.payment_qr))
    assert _drawn_squares(document) == dark


@pytest.mark.parametrize("language", ["ru", "en"])
def test_without_bank_details_the_bill_says_so(client: TestClient, language: str) -> None:
    set_prices()
    apartment = make_apartment(make_operator())
    service.generate_bills(SYSTEM, MARCH)
    owner = resident(apartment)
    bill = service.get_bill(owner.principal, _bill_of(apartment.id, owner.principal))
    assert bill.payment_qr is None
    login_page_client(client, owner.identifier, owner.password)
    page = client.get(f"/housing/bills/{bill.id}", headers={"Accept-Language": language})
    note = "не указала банковские реквизиты" if language == "ru" else "has not given its bank"
    assert note in page.text
    assert "<svg" not in page.text.split('id="payment"', 1)[1]
    with use_locale(language):
        assert _drawn_squares(bill_pdf(bill)) == 0


def test_the_command_line_sets_the_details(database: str) -> None:
    operator = make_operator()
    runner = CliRunner()
    args = ["housing", "bank-details", str(operator), "--name", DETAILS.name]
    args += ["--account", DETAILS.personal_account, "--bank", DETAILS.bank_name]
    args += ["--bic", DETAILS.bic, "--correspondent-account", DETAILS.correspondent_account]
    refused = runner.invoke(app, [*args, "--inn", "7707083894"])
    assert refused.exit_code == 2
    result = runner.invoke(app, [*args, "--inn", DETAILS.inn])
    assert result.exit_code == 0, result.output
    set_prices()
    apartment = make_apartment(operator)
    service.generate_bills(SYSTEM, MARCH)
    owner = resident(apartment)
    bill = service.get_bill(owner.principal, _bill_of(apartment.id, owner.principal))
    assert bill.payee is not None
    assert bill.payee.inn == DETAILS.inn


@pytest.mark.parametrize(
    ("language", "wrong_inn"),
    [("ru", "ИНН состоит из 10 или 12 цифр"), ("en", "A taxpayer number (INN) is 10 or 12")],
)
def test_operators_staff_set_the_details_on_a_page(
    client: TestClient, language: str, wrong_inn: str
) -> None:
    operator = make_operator()
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    login_page_client(client, staff.identifier, staff.password)
    client.headers["Accept-Language"] = language
    assert 'href="/housing/bank-details"' in client.get("/housing/requests").text
    token = csrf_token(client, "/housing/bank-details")
    form = {**DETAILS.model_dump(), "csrf_token": token}
    refused = client.post("/housing/bank-details", data={**form, "inn": "7707083894"})
    assert refused.status_code == 422
    assert wrong_inn in refused.text
    assert 'id="f-inn-error"' in refused.text
    assert f'value="{DETAILS.personal_account}"' in refused.text  # kept as typed
    saved = client.post("/housing/bank-details", data=form, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert f'value="{DETAILS.bic}"' in page.text
    assert service.get_operator_bank_details(staff.principal, operator) is not None
    # A citizen has no such page.
    citizen_client = TestClient(client.app, base_url="http://testserver")
    citizen = make_citizen()
    login_page_client(citizen_client, citizen.identifier, citizen.password)
    assert citizen_client.get("/housing/bank-details").status_code == 403
