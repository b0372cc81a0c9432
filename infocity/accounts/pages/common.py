"""What the accounts pages share."""

from __future__ import annotations

from collections.abc import Iterable

from infocity.core.auth import Role
from infocity.core.i18n import N_

ROLE_LABELS = {
    Role.CITIZEN: N_("Citizen"),
    Role.REGISTRAR: N_("Clinic registrar"),
    Role.DOCTOR: N_("Doctor"),
    Role.CLINIC_ADMIN: N_("Clinic administrator"),
    Role.SCHOOL_STAFF: N_("School staff"),
    Role.KINDERGARTEN_STAFF: N_("Kindergarten staff"),
    Role.EXAM_OFFICIAL: N_("Exam official"),
    Role.EDUCATION_OFFICIAL: N_("District education official"),
    Role.HOUSING_OPERATOR: N_("Housing operator"),
    Role.WIFI_OPERATOR: N_("Wi-Fi operator"),
    Role.COLLEGE_STAFF: N_("College or university student office"),
    Role.SECURITY_STAFF: N_("Security staff"),
    Role.ANALYST: N_("Analyst"),
    Role.CITY_ADMIN: N_("City administrator"),
}


def shown_again(form: dict[str, str], names: Iterable[str]) -> dict[str, str]:
    """What to show again in a refused form; never a password."""
    return {name: form.get(name, "") for name in names if "password" not in name}
