"""Tables of education, one module per sub-domain (imported here for migrations)."""

from infocity.education.models import directory, exams, first_grade, kindergarten

__all__ = ["directory", "exams", "first_grade", "kindergarten"]
