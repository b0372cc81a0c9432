"""School video surveillance: the buildings under watch, their cameras and security staff.

Stated distributions (documented in docs/benchmarks.md):
- buildings: ``BUILDINGS`` (1,532 at scale 1), the main building (the school's own
  address, in the education directory) of the first schools;
- cameras: two on the perimeter and one at the entrance of every building, and zero to
  two in its corridors (about four a building: some 6,100 at scale 1), each with an
  inventory code, a stream address on the city's camera network (``10.<okrug>.x.y``,
  one address a building) and an installation date in the five years before the start;
  no credentials (they are encrypted with the deployment's key, which a pure generator
  has not got: the CSV import sets them);
- security staff: one guard a building (a staff account with the ``security_staff``
  role, verified, no password), responsible for it and told of its outages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from infocity.analytics.synthetic.base import Rows, Table
from infocity.analytics.synthetic.cards import CardsCity
from infocity.analytics.synthetic.education import NO_PASSWORD

BUILDINGS = 1_532
MODELS = ("Hikvision DS-2CD2043G2", "Dahua IPC-HFW2431S", "Axis P1455-LE", "Beward B2530")
INSTALLED_WITHIN_DAYS = 5 * 365

COLUMNS: dict[str, Sequence[str]] = {
    "safety_buildings": ("id", "school_id", "address", "district_id", "created_at"),
    "safety_cameras": (
        "id", "building_id", "code", "stream_url", "placement", "model", "installed_on",
        "health", "failures", "successes",
    ),
    "staff_roles": ("id", "user_id", "role", "organisation_id", "created_at"),
    "safety_building_staff": ("id", "building_id", "user_id"),
}  # fmt: skip
USER_COLUMNS = (  # as the education part's accounts
    "id", "kind", "person_id", "email", "phone", "password_hash", "display_name", "locale",
    "is_active", "created_at", "password_changed_at", "verified_at",
)  # fmt: skip


def guard_email(n: int) -> str:
    return f"guard{n + 1}@security.infocity.example"


@dataclass
class VideoCity(CardsCity):
    def video_buildings(self) -> int:
        return min(max(1, round(BUILDINGS * self.plan.scale)), len(self.schools))

    def safety_building_id(self, n: int) -> int:
        return self.ids.get("safety_buildings", 0) + n + 1

    def guard_user_id(self, n: int) -> int:
        """After the education part's and the cards part's accounts (at most the plan's
        counts of applicants' parents, representatives and students), so that the guards
        need no resident to be generated first."""
        plan = self.plan
        before = plan.kindergarten_applicants + plan.first_grade_applicants
        before += self.representative_count + self.social_card_count
        return self.ids.get("users", 0) + before + n + 1

    def safety_building_rows(self) -> Rows:
        for n in range(self.video_buildings()):
            school = self.schools[n]
            yield (self.safety_building_id(n), self.school_id(school.index), school.address,
                   None, self.created_at)  # fmt: skip

    def camera_plan(self) -> list[tuple[int, str]]:
        """(building index, placement) of every camera, in id order."""
        rng = self._rng("video-cameras")
        cameras = []
        for n in range(self.video_buildings()):
            placements = ["perimeter", "perimeter", "entrance"]
            placements += ["corridor"] * rng.randrange(3)
            cameras += [(n, placement) for placement in placements]
        return cameras

    def safety_camera_rows(self) -> Rows:
        rng = self._rng("video-camera-details")
        base = self.ids.get("safety_cameras", 0)
        per_building: dict[int, int] = {}
        for i, (n, placement) in enumerate(self.camera_plan()):
            k = per_building[n] = per_building.get(n, 0) + 1
            okrug = self.schools[n].okrug
            host = f"10.{okrug + 1}.{n // 250}.{n % 250 + 1}"
            installed = self.start - timedelta(days=rng.randrange(INSTALLED_WITHIN_DAYS))
            yield (base + i + 1, self.safety_building_id(n), f"SCH{n + 1:04d}-CAM{k}",
                   f"rtsp://{host}:554/Streaming/Channels/{k}01", placement,
                   MODELS[rng.randrange(len(MODELS))], installed, "unknown", 0, 0)  # fmt: skip

    def guard_user_rows(self) -> Rows:
        for n in range(self.video_buildings()):
            yield (self.guard_user_id(n), "staff", None, guard_email(n), None, NO_PASSWORD,
                   f"Охрана здания {n + 1}", "ru", True, self.created_at, self.created_at,
                   self.created_at)  # fmt: skip

    def guard_role_rows(self) -> Rows:
        base = self.ids.get("staff_roles", 0)
        for n in range(self.video_buildings()):
            yield (base + n + 1, self.guard_user_id(n), "security_staff", None, self.created_at)

    def building_staff_rows(self) -> Rows:
        base = self.ids.get("safety_building_staff", 0)
        for n in range(self.video_buildings()):
            yield (base + n + 1, self.safety_building_id(n), self.guard_user_id(n))

    def tables(self) -> list[Table]:
        buildings = self.video_buildings
        return [
            *super().tables(),
            Table("users", USER_COLUMNS, self.guard_user_rows, buildings),
            Table("staff_roles", COLUMNS["staff_roles"], self.guard_role_rows, buildings),
            Table("safety_buildings", COLUMNS["safety_buildings"], self.safety_building_rows,
                  buildings),
            Table("safety_building_staff", COLUMNS["safety_building_staff"],
                  self.building_staff_rows, buildings),
            Table("safety_cameras", COLUMNS["safety_cameras"], self.safety_camera_rows,
                  lambda: len(self.camera_plan())),
        ]  # fmt: skip
