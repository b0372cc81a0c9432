"""All meters of an apartment in one form: the readings are saved together or, when any
is refused, none is, and every refused reading is marked at its own field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from infocity.core.errors import Conflict, InvalidFields
from infocity.housing import service
from infocity.housing.models import MeterReading
from infocity.housing.schemas import ReadingCreate, ReadingsCreate
from tests.builders import count_rows, csrf_token, login_page_client, make_citizen
from tests.housing_builders import make_apartment, make_meter, make_operator, resident

OPEN = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)  # March's window (15 March - 3 April)
CLOSED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _readings(*pairs: tuple[int, str], confirm: bool = False) -> ReadingsCreate:
    return ReadingsCreate(
        readings=[ReadingCreate(meter_id=m, value=Decimal(v), confirm=confirm) for m, v in pairs]
    )


def test_all_readings_are_saved_together(database: str) -> None:
    apartment = make_apartment(make_operator(), residents=2)
    cold = make_meter(apartment.id, "cold_water", initial_value=Decimal(100))
    hot = make_meter(apartment.id, "hot_water", initial_value=Decimal(50))
    day = make_meter(apartment.id, "electricity_day", initial_value=Decimal(1000))
    owner = resident(apartment)
    saved = service.submit_readings(
        owner.principal, apartment.id, _readings((cold.id, "105"), (hot.id, "53")), now=OPEN
    )
    assert {r.meter_id: r.value for r in saved} == {cold.id: 105, hot.id: 53}
    assert count_rows(MeterReading) == 2  # the blank electricity meter keeps its reading
    # A reading of another apartment's meter is refused at its field, like a wrong one.
    other = make_meter(make_apartment(make_operator()).id)
    with pytest.raises(InvalidFields) as refused:
        service.submit_readings(
            owner.principal, apartment.id, _readings((day.id, "1100"), (other.id, "1")), now=OPEN
        )
    assert [e.field for e in refused.value.errors] == [f"value-{other.id}"]
    assert count_rows(MeterReading) == 2


def test_one_refused_reading_saves_none_and_each_is_marked(database: str) -> None:
    apartment = make_apartment(make_operator(), residents=1)
    cold = make_meter(apartment.id, "cold_water", initial_value=Decimal(100))
    hot = make_meter(apartment.id, "hot_water", initial_value=Decimal(50))
    day = make_meter(apartment.id, "electricity_day", initial_value=Decimal(1000))
    owner = resident(apartment)
    with pytest.raises(InvalidFields) as refused:
        service.submit_readings(
            owner.principal,
            apartment.id,
            # Right, below the installation value, far above the norm (4.745 x 1 x 3).
            _readings((cold.id, "104"), (hot.id, "40"), (day.id, "1000")),
            now=OPEN,
        )
    assert count_rows(MeterReading) == 0
    codes = {e.field: e.code for e in refused.value.errors}
    assert codes == {f"value-{hot.id}": "reading_below_previous"}
    with pytest.raises(InvalidFields) as refused:
        service.submit_readings(
            owner.principal, apartment.id, _readings((cold.id, "104"), (hot.id, "90")), now=OPEN
        )
    assert {e.field: e.code for e in refused.value.errors} == {
        f"value-{hot.id}": "reading_needs_confirmation"
    }
    assert count_rows(MeterReading) == 0
    with pytest.raises(Conflict):
        service.submit_readings(
            owner.principal, apartment.id, _readings((cold.id, "104")), now=CLOSED
        )
    saved = service.submit_readings(
        owner.principal,
        apartment.id,
        _readings((cold.id, "104"), (hot.id, "90"), confirm=True),
        now=OPEN,
    )
    assert len(saved) == 2


@pytest.mark.parametrize(
    ("language", "marked", "saved"),
    [
        ("ru", "Показание %s меньше предыдущего", "Показание сохранено"),
        ("en", "The reading %s is below the previous one", "The reading is saved"),
    ],
)
def test_the_form_marks_each_refused_meter_and_keeps_what_was_typed(
    client: TestClient, always_open: None, language: str, marked: str, saved: str
) -> None:
    apartment = make_apartment(make_operator(), residents=1)
    cold = make_meter(apartment.id, "cold_water", initial_value=Decimal(100))
    hot = make_meter(apartment.id, "hot_water", initial_value=Decimal(50))
    day = make_meter(apartment.id, "electricity_day", initial_value=Decimal(1000))
    citizen = make_citizen()
    from tests.housing_builders import link

    link(citizen, apartment)
    login_page_client(client, citizen.identifier, citizen.password)
    client.headers["Accept-Language"] = language
    url = f"/housing/apartments/{apartment.id}"
    page = client.get(url)
    for meter in (cold, hot, day):
        assert f'name="value-{meter.id}"' in page.text
    assert page.text.count('type="submit"') >= 1
    token = csrf_token(client, url)
    refused = client.post(
        f"{url}/readings",
        data={
            f"value-{cold.id}": "104,5",
            f"value-{hot.id}": "40",
            f"value-{day.id}": "12a",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 422
    assert count_rows(MeterReading) == 0
    assert f'id="value-{day.id}-error"' in refused.text  # not a number
    # A typo is told before anything is checked against the meters; correct it...
    refused = client.post(
        f"{url}/readings",
        data={f"value-{cold.id}": "104,5", f"value-{hot.id}": "40", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert f'id="value-{hot.id}-error"' in refused.text
    assert f'id="value-{cold.id}-error"' not in refused.text
    assert marked % "40" in refused.text
    assert 'value="104,5"' in refused.text  # the right one stays typed in
    assert count_rows(MeterReading) == 0
    done = client.post(
        f"{url}/readings",
        data={f"value-{cold.id}": "104,5", f"value-{hot.id}": "51", "csrf_token": token},
    )
    assert done.status_code == 200
    assert saved in done.text
    assert count_rows(MeterReading) == 2
    nothing = client.post(f"{url}/readings", data={f"value-{cold.id}": " ", "csrf_token": token})
    assert nothing.status_code == 422
