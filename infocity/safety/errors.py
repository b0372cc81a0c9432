"""The refusals of school video surveillance, one class per code, each with the English
message id the user reads translated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infocity.core.errors import Conflict, InvalidInput, NotFound
from infocity.core.i18n import N_, gettext


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one line of an imported file."""

    line: int
    message: str  # an English message id with %(…)s parameters
    params: dict[str, str]


class BuildingNotFound(NotFound):
    """The same answer for no building and for one the user is not responsible for."""

    def __init__(self) -> None:
        super().__init__("building_not_found", N_("There is no such school building among yours."))


class NotASchoolBuilding(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "not_a_school_building",
            N_("The education directory has no such building of this school."),
            field="address",
        )


class BuildingAlreadyRegistered(Conflict):
    def __init__(self) -> None:
        super().__init__("building_registered", N_("This school building is already registered."))


class NotSecurityStaff(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "not_security_staff", N_("Only security staff can be responsible for a building.")
        )


class CameraFileRefused(InvalidInput):
    """A CSV of cameras with problems: nothing is imported, every problem is named by line."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        super().__init__(
            "camera_file_refused",
            N_("The file has %(count)s problem(s); nothing was imported."),
            count=str(len(problems)),
        )
        self.problems = list(problems)

    def translated_rows(self) -> list[tuple[int, str]]:
        """(line, what is wrong with it) of every problem, in the user's language."""
        return [(p.line, gettext(p.message, **p.params)) for p in self.problems]

    def lines(self) -> list[str]:
        """Each problem as "line N: message", in the user's language."""
        return [f"{p.line}: {gettext(p.message, **p.params)}" for p in self.problems]


class PeriodInvalid(InvalidInput):
    def __init__(self) -> None:
        super().__init__("period_invalid", N_("The period must end after it starts."), field="end")
