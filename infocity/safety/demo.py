"""The demo city's school video: the main building of School No. 1520 with a few
cameras (through the CSV import) and the demo security staff responsible for it. The
cameras' streams point at loopback ports where nothing listens, so the worker's probes
open an outage the guard sees.

Call ``load_demo_safety()`` after ``infocity.demo.load_demo_city()``.
"""

from __future__ import annotations

from infocity.core.auth import SYSTEM
from infocity.safety import service
from infocity.safety.schemas import BuildingCreate

HEADER = "school_id,address,code,stream_url,placement,model,installed_on,username,password"
# (code, placement): a handful, so the demo's worker stays light.
CAMERAS = (("CAM-01", "entrance"), ("CAM-02", "perimeter"), ("CAM-03", "corridor"))


def load_demo_safety(school_id: int, address: str, guard_id: int) -> None:
    """The school building, its guard and its cameras."""
    building = service.register_building(
        SYSTEM, BuildingCreate(school_id=school_id, address=address)
    )
    service.assign_building_staff(SYSTEM, building.id, guard_id)
    lines = [
        f'{school_id},"{address}",{code},rtsp://127.0.0.1:{1 + n}/demo/{code.lower()},'
        f"{placement},Hikvision DS-2CD,2024-09-01,,"
        for n, (code, placement) in enumerate(CAMERAS)
    ]
    service.import_cameras(SYSTEM, "\n".join([HEADER, *lines]) + "\n")
