"""The synthetic city loads and is consistent on both backends, and every benchmark runs
at a tiny scale and writes its JSON. No timing is asserted: benchmarks are never tests."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text, update
from typer.testing import CliRunner

from infocity.accounts.rules import normalize_oms_policy, normalize_snils
from infocity.analytics import synthetic
from infocity.cli import app
from infocity.core.ages import age_on
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import rules, service
from infocity.health.models import Attachment, Clinic, Practitioner, Slot, Specialty
from infocity.health.schemas import AnonymousBookingCreate
from tests.support.statements import statements_of

runner = CliRunner()


def _specialties() -> dict[str, synthetic.SpecialtyInfo]:
    return {
        s.code: synthetic.SpecialtyInfo(
            i + 1, s.code, s.slot_minutes, 14, rules.DEFAULT_RELEASE_TIME, s.audience
        )
        for i, s in enumerate(rules.SPECIALTIES)
    }


def _city(seed: int) -> synthetic.SyntheticCity:
    return synthetic.SyntheticCity(
        plan=synthetic.CityPlan.at(0.0001),
        seed=seed,
        start=date(2026, 3, 20),  # the horizon crosses nothing odd; the rules handle DST
        tz=ZoneInfo("Europe/Moscow"),
        specialties=_specialties(),
    )


def test_the_same_seed_gives_the_same_city() -> None:
    first, again, other = _city(7), _city(7), _city(8)
    assert list(first.persons()) == list(again.persons())
    assert list(first.slot_rows()) == list(again.slot_rows())
    assert list(first.persons())[:50] != list(other.persons())[:50]


# The rows of a small seeded city, pinned: work on the generator's speed must not change
# the city (every table, in load order; a table written by several parts is chained).
CITY_DIGESTS = {
    "persons": "70b4d5ad5fa08acf", "organisations": "0da2917bdf1750de",
    "clinics": "fcedf48728f15065", "clinic_attachments": "65ad9248595491a8",
    "practitioners": "c65add4df346b657", "schedule_rules": "41e6b159ea084912",
    "schedule_exceptions": "e3b0c44298fc1c14", "slots": "787d36219c8e9c2d",
    "schools": "39503e209cd901ad", "school_buildings": "b3f14ae9ac98a0d4",
    "kindergartens": "f0c8d9cb191b1509", "kindergarten_groups": "96318531571c1431",
    "users": "dcd1dc114ac36913", "family_links": "c140f5242981e18b",
    "kindergarten_applications": "dffdaeb555ff75f6", "kindergarten_choices": "03c7c2ddc9052528",
    "first_grade_campaigns": "cc6cb310e42f0aa9", "first_grade_places": "866fa72d2413e82e",
    "first_grade_applications": "41bda126205e9524", "first_grade_choices": "7345ccbeb49ac8b9",
    "exam_imports": "ef5c93cc09dc4e74", "exam_participants": "f456d323b6f2de00",
    "exam_results": "a3519832ad0ad77d", "exam_publications": "8ac6789c77ac3796",
    "device_keys": "4f5d4af8707bb35f", "card_pupils": "387c2f14e0c9f0f2",
    "school_cards": "37f6a40695dd54bd", "card_representatives": "2900124712f6df34",
    "social_cards": "eb76203c21af6016", "staff_roles": "198da955934643db",
    "safety_buildings": "9b00cd9dde1e13d5", "safety_building_staff": "7d1ae6afee253136",
    "safety_cameras": "965a6cc14c5c4c18", "wifi_networks": "38a7a1a860d35e3e",
    "wifi_hotspots": "a19cd67dd8aab14d", "wifi_access_points": "3b131e1a1f24471b",
    "wifi_identities": "0d5904e2178d919f", "wifi_devices": "c9f8d91dd269348d",
    "wifi_identity_log": "0cf3036a9181d876", "wifi_sessions": "411105a5500f22e0",
}  # fmt: skip


def test_a_seeded_city_is_the_same_row_for_row() -> None:
    city = synthetic.SyntheticCity(
        plan=synthetic.CityPlan.at(0.001),
        seed=3,
        start=date(2026, 3, 20),
        tz=ZoneInfo("Europe/Moscow"),
        specialties=_specialties(),
    )
    digests: dict[str, str] = {}
    for table in city.tables():
        digest = hashlib.sha256(digests.get(table.name, "").encode())
        for row in table.rows():
            digest.update(repr(row).encode())
        digests[table.name] = digest.hexdigest()[:16]
    assert digests == CITY_DIGESTS


def test_personal_numbers_are_valid_and_unique() -> None:
    snils = [synthetic.snils_for(n) for n in range(5000)]
    policies = [synthetic.oms_policy_for(n) for n in range(5000)]
    assert len(set(snils)) == len(set(policies)) == 5000
    assert all(normalize_snils(s) == s for s in snils)
    assert all(normalize_oms_policy(p) == p and len(p) == 16 for p in policies)
    assert synthetic.luhn_digit("7992739871") == "3"  # the textbook example


def test_ages_follow_the_stated_mix() -> None:
    city = synthetic.SyntheticCity(
        plan=synthetic.CityPlan.at(0.001),
        seed=1,
        start=date(2026, 11, 25),
        tz=ZoneInfo("Europe/Moscow"),
        specialties=_specialties(),
    )
    births = [row[4] for row in city.persons()]
    children = sum(1 for b in births if isinstance(b, date) and age_on(b, city.start) < 18)
    assert abs(children / len(births) - 0.17) < 0.02


@pytest.mark.slow
def test_seed_city_loads_a_consistent_city_where_a_patient_can_book(database: str) -> None:
    result = runner.invoke(app, ["seed", "city", "--scale", "0.001", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output
    again = runner.invoke(app, ["seed", "city", "--scale", "0.001", "--no-progress"])
    assert again.exit_code == 2  # refuses a database that has polyclinics

    with UnitOfWork() as uow:
        session = uow.session
        assert (session.scalar(select(func.count()).select_from(Slot)) or 0) > 1000
        assert (session.scalar(select(func.count()).select_from(Clinic)) or 0) >= 4
        # Every slot's clinic is its practitioner's, and its specialty too.
        mismatched = session.scalar(
            select(func.count())
            .select_from(Slot)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(
                (Slot.clinic_id != Practitioner.clinic_id)
                | (Slot.specialty_id != Practitioner.specialty_id)
            )
        )
        assert mismatched == 0
        # Everyone is attached to a head polyclinic of their kind.
        wrong = session.scalar(
            select(func.count())
            .select_from(Attachment)
            .join(Clinic, Clinic.id == Attachment.clinic_id)
            .where((Clinic.parent_clinic_id.is_not(None)) | (Clinic.clinic_kind != Attachment.kind))
        )
        assert wrong == 0
        therapist = session.scalars(select(Specialty).where(Specialty.code == "therapist")).one()
        now = utcnow()
        slot_id, head = session.execute(
            select(Slot.id, func.coalesce(Clinic.parent_clinic_id, Clinic.id))
            .join(Clinic, Clinic.id == Slot.clinic_id)
            .where(
                Slot.specialty_id == therapist.id,
                Slot.release_at <= now,
                Slot.starts_at > now + timedelta(days=1),
            )
            .order_by(Slot.id)
            .limit(1)
        ).one()
        policy, birth = session.execute(
            text(
                "SELECT p.oms_policy, p.birth_date FROM persons p JOIN clinic_attachments a "
                "ON a.person_id = p.id WHERE a.clinic_id = :head AND a.kind = 'adult' "
                "ORDER BY p.id LIMIT 1"
            ),
            {"head": head},
        ).one()

    # What the job that materialises slots would create is there already, and the job
    # knows it: it plans nothing, in a few statements whatever the city's size.
    added, sent = statements_of(service.materialise_horizon)
    assert added == 0
    assert len(sent) <= 3
    # Planned again from nothing (as after the migration that brought in slots_until),
    # the job still finds every slot there.
    with UnitOfWork() as uow:
        uow.session.execute(update(Practitioner).values(slots_until=None))
        uow.commit()
    assert service.materialise_horizon() == 0
    # Through the service layer: a generated patient books a generated slot.
    birth_date = birth if isinstance(birth, date) else datetime.fromisoformat(birth).date()
    booked = service.book_by_policy(
        AnonymousBookingCreate(oms_policy=policy, birth_date=birth_date, slot_id=slot_id)
    )
    assert booked.slot_id == slot_id
    assert booked.status == "booked"


def _pgbench_or_skip() -> None:
    from bench.env import pgbench_path

    try:
        pgbench_path()
    except FileNotFoundError:
        pytest.skip("pgbench is not installed")


@pytest.mark.slow
def test_every_benchmark_runs_at_a_tiny_scale(database: str, tmp_path: Path) -> None:
    if database.startswith("sqlite"):
        pytest.skip("the benchmarks run on PostgreSQL (pgbench is the limit)")
    _pgbench_or_skip()
    from bench import __main__ as bench
    from bench.env import city_database

    with city_database(0.001, 1, database_url=database, quiet=True) as city:
        bench.do_search(city, requests=5, clients=1, seed=1, out=tmp_path)
        bench.do_rush(
            city, slots=40, clients=8, duration=2, pgbench_clients=2, seed=1,
            profile=False, out=tmp_path,
        )  # fmt: skip
        bench.do_year(city, clients=4, duration=1, seed=1, out=tmp_path)
        bench.do_slots(city, out=tmp_path)
    rush = json.loads((tmp_path / "rush-F0.001-8-clients.json").read_text())
    assert rush["database"]["double_bookings"] == 0
    assert rush["database"]["accepted_but_missing"] == 0
    assert rush["api"]["bookings"] > 0
    assert rush["api"]["errors"] == 0
    assert rush["pgbench"]["core_statement"]["double_bookings"] == 0
    assert rush["api_over_pgbench"] > 0
    for variant in ("api_alone", "stack_ceiling", "ceiling_group_commit"):
        assert rush[variant]["bookings"] > 0
        assert rush[variant]["errors"] == 0
        assert rush[variant]["database"]["double_bookings"] == 0
    assert rush["api_over_ceiling"] > 0
    # How the work spread: both server processes of each variant, with their CPU time
    # (read from /proc).
    for variant in ("api", "api_alone", "stack_ceiling", "ceiling_group_commit"):
        if not Path("/proc/self/stat").exists():
            break
        processes = rush[variant]["spread"]["processes"]
        assert len(processes) == 2
        assert sum(process["cpu_seconds"] for process in processes) > 0
    search = json.loads((tmp_path / "search-F0.001.json").read_text())
    assert search["first_slots"]["errors"] == 0
    assert search["doctor_day"]["errors"] == 0
    job = json.loads((tmp_path / "slots-F0.001.json").read_text())["job"]
    assert job["an hour with no new day"]["slots_added"] == 0
    assert job["from nothing"]["slots_added"] == 0  # the loaded city has every slot
    year = json.loads((tmp_path / "year-F0.001.json").read_text())
    assert year["needed_per_second"]["peak"] == pytest.approx(19.3, abs=0.1)
    assert year["measured"]["database"]["double_bookings"] == 0


@pytest.mark.slow
def test_the_fhir_benchmark_runs_at_a_tiny_scale(database: str, tmp_path: Path) -> None:
    if database.startswith("sqlite"):
        pytest.skip("the benchmarks run on PostgreSQL")
    from bench import __main__ as bench
    from bench.env import city_database

    with city_database(0.001, 1, database_url=database, quiet=True) as city:
        bench.do_fhir(city, requests=5, seed=1, out=tmp_path)
    fhir = json.loads((tmp_path / "fhir-F0.001.json").read_text())
    assert fhir["first_slots"]["errors"] == fhir["doctor_day"]["errors"] == 0
    assert fhir["location_day"]["errors"] == 0
    assert fhir["bulk"]["files"]["Slot"]["resources"] > 0
    assert fhir["bulk"]["slot_rows_sql"] > 0
    writers = fhir["bulk"]["slot_writers"]
    assert writers["python"]["bytes"] == writers["postgresql"]["bytes"] > 0
    assert writers["postgresql_2_sessions"]["bytes"] == writers["python"]["bytes"]


def test_the_payments_benchmark_runs_with_few_rows(database: str, tmp_path: Path) -> None:
    if database.startswith("sqlite"):
        pytest.skip("the benchmark's limit is PostgreSQL's COPY")
    from bench import __main__ as bench

    bench.do_payments(database, rows=300, apartments=30, seed=1, out=tmp_path)
    figures = json.loads((tmp_path / "payments-300.json").read_text())
    assert figures["import"]["imported"] == 300
    assert figures["reimport"] == {**figures["reimport"], "imported": 0, "already_imported": 300}
    assert figures["refused_file"]["bad_lines"] == [302]
    assert figures["import_over_bare_copy"] > 0


@pytest.mark.slow
def test_the_education_benchmarks_run_at_a_tiny_scale(database: str, tmp_path: Path) -> None:
    if database.startswith("sqlite"):
        pytest.skip("the benchmarks run on PostgreSQL")
    from bench import __main__ as bench
    from bench.env import city_database
    from infocity.accounts import service as accounts
    from infocity.education import service as education
    from infocity.education.schemas.exams import ExamLookup

    with city_database(0.001, 1, database_url=database, quiet=True) as city:
        assert synthetic.CityPlan.at(0.001).exam_participants == 750
        # A generated participant's results are found through the service layer.
        found = education.look_up_exam_results(
            ExamLookup(
                registration_code=synthetic.exam_registration_code(749),
                document_number=synthetic.exam_document_number(749),
            )
        )
        assert [r.subject for r in found.results][:2] == list(synthetic.exam_subjects(749))[:2]
        bench.do_exams(city, clients=4, duration=1, seed=1, out=tmp_path)
        # A generated parent follows their child's place in the queue through the service.
        with city.connect() as connection:
            row = connection.execute(
                "SELECT a.guardian_user_id, array_agg(c.kindergarten_id ORDER BY c.rank) "
                "FROM kindergarten_applications a JOIN kindergarten_choices c "
                "ON c.application_id = a.id GROUP BY a.id ORDER BY a.id LIMIT 1"
            ).fetchone()
        assert row is not None
        user_id, kindergartens = row
        parent = accounts.principal_for_user(user_id)
        (application,) = education.list_my_kindergarten_applications(parent)
        assert [p.kindergarten_id for p in application.positions] == kindergartens
        assert len(set(kindergartens)) == 3
        bench.do_allocation(city, out=tmp_path)
    allocation = json.loads((tmp_path / "allocation-F0.001.json").read_text())
    assert allocation["offers"] > 0
    assert set(allocation["database"].values()) == {0}
    assert allocation["notices"]["told_in_one_job_run"] == allocation["offers"]
    exams = json.loads((tmp_path / "exams-F0.001.json").read_text())
    assert exams["api"]["look_ups"] > 0
    assert exams["api"]["errors"] == 0
    assert exams["api"]["answered_with_results"] == exams["api"]["look_ups"]
    assert exams["bare_endpoint"]["errors"] == 0
    assert exams["api_over_bare"] > 0


def test_bench_video_runs_at_a_tiny_scale() -> None:
    from bench import video
    from tests.support.rtsp import require_rtsp

    require_rtsp()
    result = video.run(
        cameras=20,
        concurrency=8,
        timeout=3.0,
        frame_sample=2,
        frame_concurrency=2,
        frame_timeout=8.0,
        closed_share=0.1,
        silent_share=0.1,
        namespace=False,
    )
    # Outcomes only: a busy machine may time a good stream out too.
    assert result["fast_outcomes"]["refused"] == 2
    assert result["fast_outcomes"]["timeout"] >= 2
    assert sum(result["fast_outcomes"].values()) == 20
    assert sum(result["frame_outcomes"].values()) == 2


@pytest.mark.slow
def test_the_cards_benchmark_runs_at_a_tiny_scale(database: str, tmp_path: Path) -> None:
    if database.startswith("sqlite"):
        pytest.skip("the benchmarks run on PostgreSQL")
    from bench import cards
    from bench.env import city_database, serve

    with city_database(0.001, 1, database_url=database, quiet=True) as city:
        figures = cards.run(
            city, serve=serve, rounds=2, batch=20, clients=2, peak_rate=50.0,
            peak_duration=2.0, tills_at_once=4, duration=1.0, seed=1, till_duration=2.0,
            till_interval=(0.2, 0.5),
        )  # fmt: skip
        with city.connect() as connection:
            left = connection.execute(
                "SELECT (SELECT count(*) FROM card_events WHERE device_event_id LIKE 'bench-%%'),"
                " (SELECT coalesce(sum(held), 0) FROM card_pupils)"
            ).fetchone()
    assert left == (0, 0)  # the run took back what it wrote, and what the tills held
    ingest = figures["ingest"]
    assert ingest["accepted"] == ingest["events_sent"] == 2 * figures["pupils_with_cards"]
    assert (ingest["refused"], ingest["errors"]) == (0, 0)
    assert figures["bare_copy"]["events"] == ingest["events_sent"]
    fan_out = figures["fan_out"]
    # Every parent of every pupil who entered has the entry in their inbox, once.
    assert fan_out["inbox_rows_seen"] == fan_out["notices_expected"] > 0
    assert fan_out["errors"] == 0
    # Once every notice landed, none waits for delivery. (Events with no one to tell may
    # still wait for the fan-out to mark them when the run stops watching: not counted.)
    assert fan_out["left_queued_inbox_messages"] == 0
    for tills in (figures["tills"], figures["tills_closed_loop"]):
        assert tills["asks"] > 0
        assert tills["errors"] == 0
    # At a till's pace every till asked about once every 0.2-0.5 s for 2 s.
    assert 4 * 2 / 0.5 <= figures["tills"]["asks"] <= 4 * 2 / 0.2 + 4
    assert figures["eligibility"]["errors"] == figures["bare_endpoint"]["errors"] == 0
    assert figures["eligibility_over_bare_endpoint"] > 0
    assert cards.rows(figures)


@pytest.mark.slow
def test_bench_wifi_runs_at_a_tiny_scale(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("FreeRADIUS reads and writes the city's PostgreSQL")
    from tests.support.radius import require_freeradius

    require_freeradius()
    from bench import wifi

    with wifi.wifi_city(0.0001, 1, database_url=database) as city:
        figures = wifi.run(city, requests=60, parallel=8, rounds=1)
    for server in ("auth_sql", "auth_users_file"):
        run = figures[server]
        assert (run.get("accepted"), run.get("rejected")) == (54, 6), server
    morning = figures["metro_morning"]
    assert morning["rows"] == morning["rows_with_the_last_interim"] == morning["sessions"]
    assert morning["lost"] == 0
    stats = figures["statistics"]
    assert stats["connections"] > 300  # the synthetic city's day
    assert stats["roll_up"]["days"] >= 1
    assert stats["rolled_up_equals_live"], (stats["rolled_up"], stats)


@pytest.mark.slow
def test_bench_video_probes_and_records_the_synthetic_citys_cameras(database: str) -> None:
    from bench import video
    from tests.support.rtsp import require_rtsp

    require_rtsp()
    seeded = runner.invoke(app, ["seed", "city", "--scale", "0.001", "--no-progress"])
    assert seeded.exit_code == 0, seeded.output
    result = video.run_city(
        cycles=3, frame_sample=2, closed_share=0.25, silent_share=0.25, namespace=False
    )
    assert result["cameras"] >= 6  # two buildings, three to five cameras each
    last = result["fast_cycles"][-1]
    assert sum(last["outcomes"].values()) == result["cameras"]
    assert last["outages_opened"] >= 1  # the closed ports fail a third time in a row
    assert result["fan_out"]["messages"] >= 1
    assert result["frame_cycle"]["sample"] == 2
