"""The housing pages through the real forms: link, readings (with confirmation), bill
and PDF, a request filed and processed; and the payments import command."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infocity.cli import app
from infocity.core.auth import SYSTEM, Role
from infocity.housing import service
from infocity.housing.models import Payment
from tests.builders import count_rows, csrf_token, login_page_client, make_citizen, make_staff
from tests.housing_builders import make_apartment, make_meter, make_operator, set_prices


def test_citizen_links_submits_and_reads_the_bill(client: TestClient, always_open: None) -> None:
    set_prices()
    operator = make_operator()
    apartment = make_apartment(operator, number="27", residents=1)
    meter = make_meter(apartment.id, "hot_water", initial_value=10)  # type: ignore[arg-type]
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)
    token = csrf_token(client, "/housing")

    wrong = client.post(
        "/housing/link",
        data={"payer_code": apartment.payer_code, "number": "28", "csrf_token": token},
    )
    assert wrong.status_code == 422
    assert "Квартира с таким кодом плательщика и номером не найдена" in wrong.text
    linked = client.post(
        "/housing/link",
        data={"payer_code": apartment.payer_code, "number": "27", "csrf_token": token},
        follow_redirects=False,
    )
    assert linked.status_code == 303
    page = client.get(linked.headers["location"])
    assert apartment.payer_code in page.text
    assert 'id="window"' in page.text

    url = f"/housing/apartments/{apartment.id}/readings"
    field = f"value-{meter.id}"
    first = client.post(url, data={field: "12,5", "csrf_token": token}, follow_redirects=False)
    assert first.status_code == 303
    # 4.745 x 1 x 3 = 14.235 m³ at most without confirming.
    too_much = client.post(url, data={field: "40", "csrf_token": token})
    assert too_much.status_code == 409
    assert f'name="confirm-{meter.id}" value="1"' in too_much.text
    confirmed = client.post(
        url,
        data={field: "40", f"confirm-{meter.id}": "1", "csrf_token": token},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    page = client.get(f"/housing/apartments/{apartment.id}")
    assert "<svg" in page.text
    assert "<script" not in page.text

    window = service.readings_window()
    service.generate_bills(SYSTEM, window.period)
    page = client.get(f"/housing/apartments/{apartment.id}")
    bill_id = re.search(r'href="/housing/bills/(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    bill = client.get(f"/housing/bills/{bill_id}")
    assert bill.status_code == 200
    assert apartment.payer_code in bill.text
    document = client.get(f"/housing/bills/{bill_id}.pdf")
    assert document.headers["content-type"] == "application/pdf"
    assert document.content.startswith(b"%PDF")
    # Another citizen sees neither the apartment nor the bill.
    other = TestClient(client.app, base_url="http://testserver")
    stranger = make_citizen()
    login_page_client(other, stranger.identifier, stranger.password)
    assert other.get(f"/housing/apartments/{apartment.id}").status_code == 404
    assert other.get(f"/housing/bills/{bill_id}.pdf").status_code == 404


def test_request_filed_and_processed_through_the_pages(client: TestClient) -> None:
    operator = make_operator()
    apartment = make_apartment(operator)
    citizen = make_citizen()
    from tests.housing_builders import link

    link(citizen, apartment)
    login_page_client(client, citizen.identifier, citizen.password)
    token = csrf_token(client, "/housing/requests/new")
    filed = client.post(
        "/housing/requests/new",
        data={
            "service_code": "heating",
            "apartment_id": str(apartment.id),
            "description": "Холодные батареи",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303
    assert "Холодные батареи" in client.get("/housing/requests/mine").text

    staff_client = TestClient(client.app, base_url="http://testserver")
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    login_page_client(staff_client, staff.identifier, staff.password)
    assert (
        staff_client.get("/housing", follow_redirects=False).headers["location"]
        == "/housing/requests"
    )
    queue = staff_client.get("/housing/requests")
    assert "Холодные батареи" in queue.text
    request_id = service.list_my_requests(citizen.principal)[0].id
    staff_token = csrf_token(staff_client, "/housing/requests")
    refused = staff_client.post(
        f"/housing/requests/{request_id}/status",
        data={"status": "closed", "note": "", "csrf_token": staff_token},
    )
    assert refused.status_code == 422
    done = staff_client.post(
        f"/housing/requests/{request_id}/status",
        data={"status": "closed", "note": "Стояк прокачан", "csrf_token": staff_token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    mine = client.get("/housing/requests/mine").text
    assert "Стояк прокачан" in mine
    # A citizen cannot reach the queue.
    assert client.get("/housing/requests").status_code == 403


def test_import_payments_command(database: str, tmp_path: Path) -> None:
    apartment = make_apartment(make_operator())
    good = tmp_path / "bank.csv"
    good.write_text(
        f"payment_id,payer_code,amount,paid_on\nP-1,{apartment.payer_code},100.00,2026-04-05\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(app, ["import", "payments", str(good)])
    assert result.exit_code == 0, result.output
    assert "payments imported: 1" in result.output
    assert "already imported: 1" in runner.invoke(app, ["import", "payments", str(good)]).output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"payment_id,payer_code,amount,paid_on\nP-2,{apartment.payer_code},1,2026-04-05\n"
        "P-3,123,1,2026-04-05\n",
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["import", "payments", str(bad)])
    assert refused.exit_code == 2
    assert "line 3" in refused.output
    assert count_rows(Payment) == 1
    windows = tmp_path / "windows-1251.csv"
    windows.write_bytes(
        f"payment_id,payer_code,amount,paid_on\nПлатёж-7,{apartment.payer_code},5,2026-04-05\n"
        "ПЛ\x00-8,123,99999999999.99,9999-12-31\n".encode("cp1251")
    )
    mixed = runner.invoke(app, ["import", "payments", str(windows)])
    assert mixed.exit_code == 2  # read, and the bad line reported rather than a traceback
    assert "line 3: control characters are not allowed; payer_code must be 10 digits" in (
        mixed.output
    )
    assert "amount must be at most 9999999999.99" in mixed.output
    assert count_rows(Payment) == 1
