"""JSON routes of the city's Wi-Fi (thin: parse, call one service function): the portal's
two steps for controllers' own captive pages and apps, the operators' registry, and the
open-data list of hotspots (GeoJSON and CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from infocity.connectivity import service
from infocity.connectivity.schemas import (
    BindingRead,
    CodeConfirm,
    CodeRequest,
    CodeSent,
    HotspotImportRead,
    HotspotRead,
    NetworkCreate,
    NetworkRead,
)
from infocity.web.deps import CurrentUser, client_ip
from infocity.web.errors import error_responses

router = APIRouter(prefix="/wifi", tags=["connectivity"])

MAX_HOTSPOTS_FILE_BYTES = 5 * 1024 * 1024
# What the open data says of a hotspot: never the controller's address or secret.
OPEN_COLUMNS = ("id", "network_code", "name", "address", "latitude", "longitude", "ssid")


@router.post(
    "/codes",
    status_code=201,
    response_model=CodeSent,
    summary="Send a Wi-Fi code by SMS to a phone, for a device at a hotspot",
    responses=error_responses(404, 422, 429),
)
def request_code(data: CodeRequest, request: Request) -> CodeSent:
    # No login: whoever is at the portal is who the code identifies.
    return service.request_wifi_code(None, data, ip=client_ip(request))


@router.post(
    "/bindings",
    status_code=201,
    response_model=BindingRead,
    summary="Confirm the SMS code: the device is bound to the phone's owner",
    responses=error_responses(404, 422),
)
def confirm_code(data: CodeConfirm) -> BindingRead:
    return service.confirm_wifi_code(None, data)


@router.post(
    "/networks",
    status_code=201,
    response_model=NetworkRead,
    summary="Add a Wi-Fi network of an operator",
    responses=error_responses(401, 403, 409, 422),
)
def create_network(data: NetworkCreate, actor: CurrentUser) -> NetworkRead:
    return service.create_network(actor, data)


@router.get(
    "/networks",
    response_model=list[NetworkRead],
    summary="The operator's Wi-Fi networks",
    responses=error_responses(401, 403),
)
def list_networks(actor: CurrentUser) -> list[NetworkRead]:
    return service.list_networks(actor)


@router.post(
    "/hotspots/imports",
    status_code=201,
    response_model=HotspotImportRead,
    summary="Import hotspots (CSV): all or nothing, refused lines listed; new secrets shown once",
    responses=error_responses(401, 403, 422),
)
async def import_hotspots(actor: CurrentUser, file: UploadFile) -> HotspotImportRead:
    data = await file.read(MAX_HOTSPOTS_FILE_BYTES + 1)
    return await run_in_threadpool(service.import_hotspots, actor, data)


def _feature(hotspot: HotspotRead) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": hotspot.id,
        "geometry": {"type": "Point", "coordinates": [hotspot.longitude, hotspot.latitude]},
        "properties": {name: getattr(hotspot, name) for name in (*OPEN_COLUMNS[:-3], "ssid")},
    }


@router.get(
    "/hotspots.geojson",
    summary="Open data: every hotspot of the city as a GeoJSON FeatureCollection",
    response_class=JSONResponse,
    responses={200: {"content": {"application/geo+json": {"schema": {"type": "object"}}}}},
)
def hotspots_geojson() -> JSONResponse:
    features = [_feature(hotspot) for hotspot in service.open_data_hotspots()]
    return JSONResponse(
        {"type": "FeatureCollection", "features": features},
        media_type="application/geo+json",
    )


@router.get(
    "/hotspots.csv",
    summary="Open data: every hotspot of the city as CSV (UTF-8)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def hotspots_csv() -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(OPEN_COLUMNS)
    for hotspot in service.open_data_hotspots():
        writer.writerow([getattr(hotspot, name) for name in OPEN_COLUMNS])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="wifi-hotspots.csv"'},
    )
