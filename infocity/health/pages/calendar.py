"""An appointment as an iCalendar file (RFC 5545), for the citizen's own calendar.

A handful of lines, so written here rather than taken from a library: one VEVENT with
a stable UID (a new download replaces the entry rather than adding a second), times in
UTC, the clinic's address and the room as the place, text escaped and lines folded as
the RFC asks."""

from __future__ import annotations

from datetime import UTC, datetime

from infocity.core.i18n import gettext
from infocity.health.reads import CalendarEvent
from infocity.health.rules import AppointmentStatus

PRODID = "-//InfoCity//Medical appointments//RU"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newline escaped (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (3.1)."""
    data = line.encode()
    parts: list[str] = []
    while len(data) > 75:
        cut = 75 if not parts else 74
        while (data[cut] & 0xC0) == 0x80:  # never inside a UTF-8 character
            cut -= 1
        parts.append(data[:cut].decode())
        data = data[cut:]
    parts.append(data.decode())
    return "\r\n ".join(parts)


def appointment_ics(
    event: CalendarEvent, *, specialty: str, clinic: str, host: str, now: datetime
) -> str:
    """The appointment as a calendar with one event, CRLF line ends."""
    a = event.appointment
    place = ", ".join(x for x in (clinic, a.clinic.address) if x)
    if a.room:
        place += ", " + gettext("room %(room)s", room=a.room)
    summary = f"{specialty}: {a.doctor}"
    description = gettext(
        "Ticket number: %(ticket)s. Patient: %(patient)s.",
        ticket=a.ticket_number,
        patient=a.patient_name,
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:appointment-{a.id}@{host}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(a.starts_at)}",
        f"DTEND:{_utc(event.ends_at)}",
        f"SUMMARY:{_text(summary)}",
        f"LOCATION:{_text(place)}",
        f"DESCRIPTION:{_text(description)}",
        "STATUS:" + ("CONFIRMED" if a.status == AppointmentStatus.BOOKED else "CANCELLED"),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)
