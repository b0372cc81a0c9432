"""Rules of the education directory: addresses and the territory file (pure)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from infocity.core.i18n import N_
from infocity.core.schemas import MAX_ID

TERRITORY_HEADER = ("address", "school_id")
MAX_ADDRESS = 500
MAX_TERRITORY_ROWS = 100_000


def address_key(address: str) -> str:
    """An address as compared: case, ё, punctuation spacing and runs of spaces folded,
    so "Тверская ул.,  д. 1" and "тверская ул., д. 1" are one building."""
    folded = address.casefold().replace("ё", "е").replace(",", ", ")
    return " ".join(folded.split()).replace(" ,", ",")


@dataclass(frozen=True)
class TerritoryRow:
    line: int
    address: str
    school_id: int


def parse_territory(text: str) -> tuple[list[TerritoryRow], list[tuple[int, str]]]:
    """The rows of a territory file (CSV: ``address,school_id`` with that header), and the
    rejected ones as (line, message id). Which schools exist is the caller's check."""
    reader = csv.reader(io.StringIO(text))
    rows: list[TerritoryRow] = []
    rejected: list[tuple[int, str]] = []
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != TERRITORY_HEADER:
        return [], [(1, N_("The first line must be the header: address,school_id."))]
    seen: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(rejected) >= MAX_TERRITORY_ROWS:
            rejected.append((line, N_("Too many rows: at most 100000 in one file.")))
            break
        if len(values) != len(TERRITORY_HEADER):
            rejected.append((line, N_("A row must have two values: address and school number.")))
            continue
        address, school = (v.strip() for v in values)
        if not address or len(address) > MAX_ADDRESS:
            rejected.append((line, N_("The address is empty or longer than 500 characters.")))
            continue
        if not school.isdigit() or not 0 < int(school) <= MAX_ID:
            rejected.append((line, N_("The school number must be a whole number.")))
            continue
        key = address_key(address)
        if key in seen:
            rejected.append((line, N_("This address is already on an earlier line.")))
            continue
        seen[key] = line
        rows.append(TerritoryRow(line, address, int(school)))
    return rows, rejected
