"""Tables of education, one module per sub-domain (imported here for migrations)."""

from infocity.education.models import exams

__all__ = ["exams"]
