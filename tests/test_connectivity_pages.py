"""The Wi-Fi pages: the captive portal's steps (Russian by default, English on request;
by SMS, as a logged-in citizen, by the cookie), the operator's import with its report of
refused lines and new secrets, the statistics' charts, and the open-data export."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import csrf_token, logged_in, make_citizen
from tests.connectivity_builders import HEADER, hotspot_line, make_wifi_city, sms_code
from tests.support.forms import submit

PHONE = "+79161234567"


def test_portal_binds_by_sms_then_knows_the_browser(client: TestClient) -> None:
    city = make_wifi_city(hotspots=1)
    entry = f"/wifi/portal?mac=3C:22:FB:12:34:56&hotspot={city.nas}"
    page = client.get(entry)
    assert page.status_code == 200
    assert "Номер телефона" in page.text
    device = {"mac": "3C:22:FB:12:34:56", "hotspot": city.nas}

    wrong = submit(client, page, "/wifi/portal/code", {**device, "phone": "12"})
    assert wrong.status_code == 422
    assert "Это не номер телефона" in wrong.text
    sent = submit(client, page, "/wifi/portal/code", {**device, "phone": "8 916 123 45 67"})
    assert sent.status_code == 200
    assert "+7916 ***-**-67" in sent.text
    challenge = sent.text.split('name="challenge" value="', 1)[1].split('"', 1)[0]
    code = {**device, "challenge": challenge}
    bad = submit(client, sent, "/wifi/portal/confirm", {**code, "code": "12"})
    assert bad.status_code == 422
    assert "6 цифр" in bad.text
    done = submit(client, sent, "/wifi/portal/confirm", {**code, "code": sms_code(PHONE)})
    assert done.status_code == 200
    assert 'id="wifi-bound"' in done.text
    assert client.get(entry).text.count("подключено до") == 1

    # The same browser with a new randomised MAC: one button, no SMS.
    again = client.get(f"/wifi/portal?mac=a2-11-22-33-44-55&hotspot={city.nas}")
    assert "частный (случайный) адрес" in again.text
    assert "вы уже подтверждали телефон" in again.text
    connected = submit(
        client, again, "/wifi/portal/connect", {"mac": "a2-11-22-33-44-55", "hotspot": city.nas}
    )
    assert 'id="wifi-bound"' in connected.text

    broken = client.get("/wifi/portal?mac=nonsense&hotspot=" + city.nas)
    assert broken.status_code == 422
    client.cookies.set("lang", "en")
    assert (
        "Phone number" in client.get(f"/wifi/portal?mac=3c-22-fb-00-00-01&hotspot={city.nas}").text
    )


def test_citizen_and_operator_pages(client: TestClient, browser: TestClient) -> None:
    city = make_wifi_city(hotspots=1)
    citizen = make_citizen(phone="+79031112233")
    logged_in(browser, citizen)
    page = browser.get(f"/wifi/portal?mac=3c-22-fb-00-00-02&hotspot={city.nas}")
    assert "Подключиться с моей учётной записью InfoCity" in page.text
    done = submit(
        browser, page, "/wifi/portal/connect", {"mac": "3c-22-fb-00-00-02", "hotspot": city.nas}
    )
    assert 'id="wifi-bound"' in done.text

    logged_in(client, city.staff)
    operator = client.get("/wifi/operator")
    assert operator.status_code == 200
    assert city.nas in operator.text
    assert city.secret not in operator.text  # shown once, at the import
    bad = f"{HEADER}\n{hotspot_line(city.network.code, 7)}\nnowhere;x;y;1;2;S;nas-q;10.9.9.9;\n"
    refused = client.post(
        "/wifi/operator/import",
        data={"csrf_token": csrf_token(client, "/wifi/operator")},
        files={"file": ("hotspots.csv", bad.encode())},
    )
    assert refused.status_code == 422
    assert "у вашей организации нет сети nowhere" in refused.text
    good = f"{HEADER}\n{hotspot_line(city.network.code, 7)}\n"
    imported = client.post(
        "/wifi/operator/import",
        data={"csrf_token": csrf_token(client, "/wifi/operator")},
        files={"file": ("hotspots.csv", good.encode())},
    )
    assert imported.status_code == 200
    assert "Секреты RADIUS новых хот-спотов" in imported.text

    stats = client.get("/wifi/operator/stats")
    assert stats.status_code == 200
    assert stats.text.count("<svg") == 3  # connections and unique devices a day, hotspots
    assert "Устройств за день, наибольшее" in stats.text
    assert browser.get("/wifi/operator/stats").status_code == 403

    # A controller's own captive page uses the JSON routes.
    ask = {"mac": "3c-22-fb-00-00-03", "hotspot": city.nas, "phone": "+7 916"}
    refused_phone = client.post("/api/v1/wifi/codes", json=ask)
    assert refused_phone.status_code == 422
    assert refused_phone.json()["error"]["code"] == "wifi_invalid_phone"
    sent = client.post("/api/v1/wifi/codes", json={**ask, "phone": "+79265554433"})
    assert sent.status_code == 201, sent.text
    bound = client.post(
        "/api/v1/wifi/bindings",
        json={"challenge": sent.json()["challenge"], "code": sms_code("+79265554433")},
    )
    assert bound.status_code == 201
    assert bound.json()["mac"] == "3c-22-fb-00-00-03"

    geojson = client.get("/api/v1/wifi/hotspots.geojson").json()
    assert len(geojson["features"]) == 2
    assert geojson["features"][0]["geometry"]["type"] == "Point"
    assert "nas_address" not in geojson["features"][0]["properties"]
    exported = client.get("/api/v1/wifi/hotspots.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert len(exported.text.strip().splitlines()) == 3
    assert "10.0." not in exported.text
