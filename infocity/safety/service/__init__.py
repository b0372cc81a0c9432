"""Use cases of school video surveillance: one function per thing a user does, one
transaction each.

- ``base``: the buildings an actor may see, rows shaped for reading;
- ``registry``: buildings, their security staff, cameras imported from CSV;
- ``monitoring``: the probe cycles, the status history, outages and their events;
- ``notices``: each outage event told to the building's security staff (the worker);
- ``devices``: ONVIF device information of the cameras with credentials;
- ``reports``: uptime, coverage, current outages, CSV.
"""

from __future__ import annotations

from infocity.safety.service.devices import (
    device_targets,
    record_device_information,
    run_device_cycle,
)
from infocity.safety.service.monitoring import (
    probe_targets,
    record_probe_results,
    run_fast_cycle,
    run_frame_cycle,
)
from infocity.safety.service.notices import fan_out_outage_events
from infocity.safety.service.registry import (
    assign_building_staff,
    get_building_status,
    import_cameras,
    list_my_buildings,
    register_building,
    rotate_camera_credentials,
    staff_board,
)
from infocity.safety.service.reports import (
    coverage,
    current_outages,
    district_states,
    uptime_csv,
    uptime_report,
)

__all__ = [
    "assign_building_staff",
    "coverage",
    "current_outages",
    "device_targets",
    "district_states",
    "fan_out_outage_events",
    "get_building_status",
    "import_cameras",
    "list_my_buildings",
    "probe_targets",
    "record_device_information",
    "record_probe_results",
    "register_building",
    "rotate_camera_credentials",
    "run_device_cycle",
    "run_fast_cycle",
    "run_frame_cycle",
    "staff_board",
    "uptime_csv",
    "uptime_report",
]
