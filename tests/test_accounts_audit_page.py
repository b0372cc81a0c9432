"""The audit log page: who did it and to whom by name, the action in the reader's
language, never raw codes or internal numbers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fastapi.testclient import TestClient

import infocity
from infocity.accounts import service
from infocity.accounts.schemas import GrantCreate, ProfileUpdate, StaffUpdate
from infocity.core.audit import action_labels
from infocity.core.auth import Role
from infocity.portal.rules import Move
from tests.builders import login_page_client, make_citizen, make_organisation, make_staff

PACKAGE = Path(infocity.__file__).resolve().parent
POLICY = "7755000033334444"


def test_the_log_names_who_and_whom_and_says_what_in_words(client: TestClient) -> None:
    clinic = make_organisation("clinic", name="Городская поликлиника №3")
    admin = make_staff(Role.CITY_ADMIN, display_name="Админ Города")
    registrar = make_staff(Role.REGISTRAR, clinic.id, display_name="Регистратор Лидия")
    citizen = make_citizen(last_name="Соколова", first_name="Вера", middle_name="Ивановна")
    service.update_profile(citizen.principal, ProfileUpdate(oms_policy=POLICY))
    service.lookup_citizen(registrar.principal, POLICY)
    service.grant_role(
        admin.principal, registrar.id, GrantCreate(role="doctor", organisation_id=clinic.id)
    )
    service.update_staff_account(admin.principal, registrar.id, StaffUpdate(phone="+79160001122"))
    service.deactivate_staff_account(admin.principal, registrar.id)
    login_page_client(client, admin.identifier, admin.password)

    page = client.get("/admin/audit").text

    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)[1:]
    text = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
    assert any(
        "Регистратор Лидия Регистратор поликлиники Городская поликлиника №3 Искал(а) жителя "
        "Соколова Вера Ивановна" in row
        for row in text
    ), text
    assert any(
        "Админ Города" in row and "Выдал(а) роль Регистратор Лидия Врач" in row for row in text
    )
    assert any(
        "Изменил(а) имя или контакты сотрудника Регистратор Лидия телефон" in row for row in text
    )
    assert any("Отключил(а) учётную запись сотрудника Регистратор Лидия" in row for row in text)
    shown = " ".join(text)
    assert "staff." not in shown
    assert "citizen.lookup" not in shown
    assert f"user {registrar.id}" not in shown
    assert "registrar" not in shown

    client.cookies.set("lang", "en")
    english = client.get("/admin/audit").text
    for words in ("Looked a citizen up", "Granted a role", "Deactivated a staff account", "Doctor"):
        assert words in english
    # An action's label leads to the log of that action alone.
    only = client.get("/admin/audit", params={"action": "staff.deactivate"}).text
    assert "Deactivated a staff account" in only
    assert "Granted a role" not in only.split("<tbody>")[1]


def recorded_action_codes() -> set[str]:
    """Every action code the services pass to the audit log (found in their source)."""
    codes: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name not in {"record", "_audit_patients", "_patient_card"}:
                continue
            codes |= {
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", arg.value)
            }
    # The portal records each move of an application by its name.
    return codes | {f"portal.application_{move.value}" for move in Move}


def test_every_action_the_services_record_has_a_label() -> None:
    codes = recorded_action_codes()
    assert "citizen.lookup" in codes  # the scan finds them
    labelled = set(action_labels())
    assert codes <= labelled, sorted(codes - labelled)
