"""The city's Wi-Fi: the registry of networks and hotspots, the captive portal's codes
and bindings, the identity log's purge, stale sessions and statistics (both databases)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from infocity.connectivity import errors, rules, service
from infocity.connectivity.models import (
    WifiCode,
    WifiDevice,
    WifiHotspot,
    WifiIdentity,
    WifiIdentityLog,
    WifiNetwork,
    WifiSession,
)
from infocity.connectivity.schemas import CodeConfirm, CodeRequest, DeviceBind, NetworkCreate
from infocity.core.auth import SYSTEM, Role
from infocity.core.clock import city_date, city_tz
from infocity.core.db import utcnow
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from tests.builders import make_citizen, make_organisation, make_staff
from tests.connectivity_builders import HEADER, hotspot_line, make_wifi_city, sms_code
from tests.support.refusals import refusals_change_nothing

MODELS = (WifiNetwork, WifiHotspot, WifiIdentity, WifiCode, WifiDevice, WifiIdentityLog)


def _counts() -> tuple[int, ...]:
    with UnitOfWork() as uow:
        return tuple(
            int(uow.session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (*MODELS, OutboxMessage)
        )


unchanged = refusals_change_nothing(_counts)
MAC = "3c:22:fb:12:34:56"
PHONE = "+79161234567"


def test_operator_imports_hotspots_of_its_own_networks(database: str) -> None:
    city = make_wifi_city(hotspots=2)
    staff = city.staff.principal
    code = city.network.code
    assert city.hotspots.created == 2
    assert len(city.hotspots.secrets[0].radius_secret) == 32

    taken_address = service.list_hotspots(staff)[1].nas_address
    bad = "\n".join(
        [
            HEADER,
            hotspot_line(code, 901),
            "nowhere;Парк;Москва;55.7;37.6;FREE;nas-x;10.9.9.9;",
            hotspot_line(code, 902).replace("37.", "west "),
            hotspot_line(code, 903).replace("02-11-22-", "zz-11-22-", 1),
            hotspot_line(code, 904, nas_address=taken_address),  # another's controller
        ]
    ).encode()
    with unchanged("wifi_hotspots_file_refused"):
        service.import_hotspots(staff, bad)
    with pytest.raises(errors.HotspotsFileRefused) as refused:
        service.import_hotspots(staff, bad)
    rows = refused.value.translated_rows()  # the report by line the page shows
    assert [line for line, _ in rows] == [3, 4, 5, 6]
    assert "nowhere" in rows[0][1]

    # A known NAS identifier is updated, never doubled; its secret stays.
    n = int(city.nas.rsplit("-", 1)[1])
    renamed = hotspot_line(code, n).replace("Станция", "Вокзал")
    updated = service.import_hotspots(staff, f"{HEADER}\n{renamed}".encode())
    assert (updated.created, updated.updated, updated.secrets) == (0, 1, [])

    # Another operator sees none of these and cannot add to them.
    other = make_organisation("wifi_operator")
    stranger = make_staff(Role.WIFI_OPERATOR, other.id).principal
    assert service.list_hotspots(stranger) == []
    with unchanged("wifi_hotspots_file_refused"):
        service.import_hotspots(stranger, "\n".join([HEADER, hotspot_line(code, 950)]).encode())
    with unchanged("forbidden"):
        service.create_network(
            stranger,
            NetworkCreate(organisation_id=city.operator_id, code="x-1", name="Сеть", kind="park"),
        )
    with unchanged("wifi_network_code_taken"):
        service.create_network(
            SYSTEM,
            NetworkCreate(organisation_id=city.operator_id, code=code, name="Сеть", kind="park"),
        )
    hotspots = service.list_hotspots(staff)
    assert len(hotspots) == 2
    assert len(hotspots[0].access_points) == 2
    assert [n.hotspots for n in service.list_networks(staff)] == [2]
    assert len(service.open_data_hotspots()) == 2


def test_portal_binds_a_device_by_sms_code(database: str) -> None:
    metro = make_wifi_city("metro", hotspots=1)
    park = make_wifi_city("park", hotspots=1)
    now = utcnow()
    start = CodeRequest(mac=MAC, hotspot=metro.nas, phone="8 (916) 123-45-67")

    with unchanged("wifi_invalid_phone", "номер телефона"):
        service.request_wifi_code(None, start.model_copy(update={"phone": "+7 123"}), now=now)
    with unchanged("wifi_invalid_mac"):
        service.request_wifi_code(None, start.model_copy(update={"mac": "01:00:5e:00:00:01"}))
    sent = service.request_wifi_code(None, start, ip="198.51.100.7", now=now)
    assert sent.phone_masked.endswith("67")
    assert "123" not in sent.phone_masked
    code = sms_code(PHONE)
    with UnitOfWork() as uow:
        stored = uow.session.get(WifiCode, sent.challenge)
        assert stored is not None
        assert code not in stored.code_digest  # only a keyed digest is kept
    # Cooldown: a second SMS at once is refused whatever the process.
    with pytest.raises(Exception, match="rate_limited"):
        service.request_wifi_code(None, start, ip="198.51.100.7", now=now)

    wrong = "000000" if code != "000000" else "111111"
    with unchanged("wifi_invalid_code"):
        service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code="12"), now=now)
    with pytest.raises(Exception, match="wifi_code_wrong"):
        service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code=wrong), now=now)
    late = now + rules.CODE_VALID + timedelta(seconds=1)
    with unchanged("wifi_code_not_valid"):
        service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code=code), now=late)
    bound = service.confirm_wifi_code(
        None, CodeConfirm(challenge=sent.challenge, code=code), now=now
    )
    assert bound.method == "sms"
    assert bound.mac == "3c-22-fb-12-34-56"
    assert (bound.expires_at - now).days == 183
    with unchanged("wifi_code_not_valid"):  # replayed
        service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code=code), now=now)

    assert service.open_portal(None, MAC, metro.nas, now=now).bound_until == bound.expires_at
    # Roaming: the park lets the device through for a day, then asks again.
    assert service.open_portal(None, MAC, park.nas, now=now + timedelta(hours=23)).bound_until
    assert (
        service.open_portal(None, MAC, park.nas, now=now + timedelta(hours=25)).bound_until is None
    )

    # The cookie lets the same person bind a phone's new randomised address without SMS.
    cookie = service.identity_cookie(bound.identity_id)
    assert service.known_identity(cookie)
    assert not service.known_identity(cookie + "x")
    private = "a2:11:22:33:44:55"
    assert service.open_portal(None, private, park.nas, now=now).randomised
    again = service.bind_known_device(None, DeviceBind(mac=private, hotspot=park.nas), cookie)
    assert again.identity_id == bound.identity_id
    assert again.method == "cookie"
    with unchanged("wifi_code_not_valid"):
        service.bind_known_device(None, DeviceBind(mac=private, hotspot=park.nas), "forged")


def test_three_wrong_codes_use_the_code_up(database: str) -> None:
    city = make_wifi_city(hotspots=1)
    now = utcnow()
    sent = service.request_wifi_code(
        None, CodeRequest(mac=MAC, hotspot=city.nas, phone=PHONE), now=now
    )
    code = sms_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for left in (2, 1):
        with pytest.raises(Exception, match="wifi_code_wrong") as caught:
            service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code=wrong))
        assert caught.value.params == {"left": left}  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="wifi_code_not_valid"):
        service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code=wrong))
    with unchanged("wifi_code_not_valid"):
        service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code=code))
    # The daily cap per phone holds across the cooldowns.
    for minute in range(1, rules.SMS_PER_PHONE_A_DAY):
        service.request_wifi_code(
            None,
            CodeRequest(mac=MAC, hotspot=city.nas, phone=PHONE),
            now=now + timedelta(minutes=2 * minute),
        )
    with pytest.raises(Exception, match="rate_limited"):
        service.request_wifi_code(
            None, CodeRequest(mac=MAC, hotspot=city.nas, phone=PHONE), now=now + timedelta(hours=1)
        )
    # The device's cap too: another phone on the same device is refused, not elsewhere.
    later = now + timedelta(hours=2)
    other = CodeRequest(mac=MAC, hotspot=city.nas, phone="+79031112233")
    with pytest.raises(Exception, match="rate_limited"):
        service.request_wifi_code(None, other, now=later)
    service.request_wifi_code(
        None,
        other.model_copy(update={"mac": "3c-22-fb-00-00-09"}),
        now=later + timedelta(minutes=2),  # after this phone's cooldown
    )


def test_citizen_binds_without_sms_and_operations(database: str) -> None:
    city = make_wifi_city(hotspots=1)
    citizen = make_citizen(phone="+79031112233")
    now = utcnow()
    with unchanged("login_required"):
        service.bind_device_as_citizen(None, DeviceBind(mac=MAC, hotspot=city.nas))
    bound = service.bind_device_as_citizen(
        citizen.principal, DeviceBind(mac=MAC, hotspot=city.nas), now=now
    )
    assert bound.method == "account"
    with UnitOfWork() as uow:
        identity = uow.session.get(WifiIdentity, bound.identity_id)
        assert identity is not None
        assert identity.phone == "+79031112233"
        assert identity.user_id == citizen.id

    # The identity log is kept for its period, then purged by the job.
    assert service.purge_identity_log(SYSTEM, now=now + timedelta(days=182)) == 0
    assert service.purge_identity_log(SYSTEM, now=now + timedelta(days=184)) == 1

    # Sessions as FreeRADIUS writes them: a stale one is closed, never deleted.
    with UnitOfWork() as uow:
        for n, (start, updated, state) in enumerate(
            [
                (now - timedelta(hours=2), now - timedelta(hours=1), "open"),
                (now - timedelta(minutes=50), now - timedelta(minutes=5), "open"),
                (now - timedelta(minutes=40), now - timedelta(minutes=20), "closed"),
            ]
        ):
            uow.session.add(
                WifiSession(
                    acct_unique_id=f"u{n}",
                    acct_session_id=f"s{n}",
                    nas_identifier=city.nas,
                    nas_address="10.0.0.1",
                    mac=MAC if n else "3c-22-fb-00-00-01",
                    state=state,
                    started_at=start,
                    updated_at=updated,
                    stopped_at=updated if state == "closed" else None,
                    input_octets=1000 * (n + 1),
                    output_octets=5000,
                )
            )
        uow.commit()
    assert service.close_stale_sessions(SYSTEM, now=now) == 1
    day = city_date(now)
    stats = service.wifi_statistics(city.staff.principal, day - timedelta(days=1), day, now=now)
    assert len(stats) == 1
    figures = stats[0]
    assert sum(d.value for d in figures.days) == 3
    # Two devices on the day, unless the city's midnight falls between the first two
    # sessions (the first device alone on one day, the other alone on the next).
    together = city_date(now - timedelta(hours=2)) == city_date(now - timedelta(minutes=50))
    assert figures.unique_devices_busiest_day == (2 if together else 1)
    assert figures.peak_concurrent == 2
    assert figures.input_octets == 6000
    assert figures.output_octets == 15000
    assert figures.hotspots[0].connections == 3
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(func.count()).select_from(WifiSession)) == 3
    stranger = make_staff(Role.WIFI_OPERATOR, make_organisation("wifi_operator").id)
    assert service.wifi_statistics(stranger.principal, day, day) == []


def test_statistics_are_counted_by_the_database_per_city_day(database: str) -> None:
    """Connections and unique devices per city day, traffic and the peak of sessions at once
    (a session ending as another starts is not two at once; an open one lasts until now)."""
    city = make_wifi_city(hotspots=2)
    first, second = city.hotspots.secrets[0].nas_identifier, city.hotspots.secrets[1].nas_identifier
    day = date(2026, 3, 27)
    tz = city_tz()

    def at(days: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day + timedelta(days=days), time(hour, minute), tzinfo=tz)

    sessions = [
        # (hotspot, device, start, end or None: still open)
        (first, 1, at(-1, 23, 50), at(0, 0, 10)),  # the day before: not counted
        (first, 1, at(0, 10), at(0, 11)),
        (first, 2, at(0, 10, 30), at(0, 10, 45)),
        (first, 1, at(0, 11), at(0, 12)),  # starts as the first ends
        (second, 3, at(0, 10, 40), at(0, 10, 50)),  # 10:40-10:45: three at once
        (second, 4, at(1, 0, 5), None),  # just after midnight: the next city day
        (first, 2, at(1, 9, 5), at(1, 9, 20)),
    ]
    with UnitOfWork() as uow:
        for n, (nas, device, start, end) in enumerate(sessions):
            uow.session.add(
                WifiSession(
                    acct_unique_id=f"day-{n}", acct_session_id=f"{n}", nas_identifier=nas,
                    nas_address="10.0.0.1", mac=f"3c-22-fb-00-00-{device:02x}",
                    state="open" if end is None else "closed", started_at=start,
                    updated_at=end or start, stopped_at=end, input_octets=100, output_octets=n,
                )
            )  # fmt: skip
        uow.commit()
    stats = service.wifi_statistics(city.staff.principal, day, day + timedelta(days=1),
                                    now=at(1, 22))  # fmt: skip
    figures = stats[0]
    assert [(d.day, d.value) for d in figures.days] == [(day, 4), (day + timedelta(days=1), 2)]
    # Devices 1, 2, 3 on the first day, 4 and 2 on the second: the busiest day's three.
    assert [d.value for d in figures.devices_by_day] == [3, 2]
    assert figures.unique_devices_busiest_day == 3
    assert figures.peak_concurrent == 3
    assert (figures.input_octets, figures.output_octets) == (600, 21)
    with UnitOfWork() as uow:
        ids = dict(uow.session.execute(select(WifiHotspot.nas_identifier, WifiHotspot.id)).all())
    by_id = {h.hotspot_id: h for h in figures.hotspots}
    assert (by_id[ids[first]].connections, by_id[ids[first]].unique_devices_busiest_day) == (4, 2)
    assert by_id[ids[second]].unique_devices_busiest_day == 1
    assert (by_id[ids[second]].connections, by_id[ids[second]].octets) == (2, 209)
