"""The refusals of the city's Wi-Fi: one class per code, each with an English message id
translated where it is shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infocity.core.errors import Conflict, InvalidFields, InvalidInput, NotFound
from infocity.core.i18n import N_, gettext


class NetworkNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("wifi_network_not_found", N_("There is no such Wi-Fi network."))


class NetworkCodeTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "wifi_network_code_taken",
            N_("A Wi-Fi network with this code already exists."),
            field="code",
        )


class NotAWifiOperator(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "not_a_wifi_operator",
            N_("This organisation is not a Wi-Fi operator."),
            field="organisation_id",
        )


class HotspotNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "wifi_hotspot_not_found",
            N_("This hotspot is unknown. Connect to the city Wi-Fi again."),
            field="hotspot",
        )


class HotspotsFileRefused(InvalidFields):
    """The file is refused as a whole; ``rows`` says what is wrong on which line."""

    def __init__(self, rows: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
        super().__init__(
            [
                InvalidInput("wifi_hotspot_row_rejected", why, field=f"line {line}", **params)
                for line, why, params in rows
            ]
        )
        self.code = "wifi_hotspots_file_refused"
        self.message = N_("The hotspots file was not imported: %(count)s rows have mistakes.")
        self.field = "file"
        self.params = {"count": len(rows)}
        self.rows = list(rows)

    def translated_rows(self) -> list[tuple[int, str]]:
        return [(line, gettext(why, **params)) for line, why, params in self.rows]


class HotspotsFileUnreadable(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "wifi_hotspots_file_unreadable",
            N_("The file is empty or is not a CSV file in UTF-8 or Windows-1251."),
            field="file",
        )


class InvalidMac(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "wifi_invalid_mac",
            N_("The device's address did not come from the Wi-Fi network. Connect again."),
            field="mac",
        )


class InvalidPhone(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "wifi_invalid_phone",
            N_("This is not a phone number. Enter it with the country code: +7 916 123-45-67."),
            field="phone",
        )


class InvalidCode(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "wifi_invalid_code", N_("The code is 6 digits from the SMS."), field="code"
        )


class CodeNotValid(InvalidInput):
    """One refusal for a wrong, expired, used or unknown code: it does not tell which."""

    def __init__(self) -> None:
        super().__init__(
            "wifi_code_not_valid",
            N_("The code is wrong or no longer valid. Check the SMS or ask for a new code."),
            field="code",
        )


class CodeWrong(InvalidInput):
    def __init__(self, left: int) -> None:
        super().__init__(
            "wifi_code_wrong",
            N_("The code is wrong. Attempts left: %(left)s."),
            field="code",
            left=left,
        )
