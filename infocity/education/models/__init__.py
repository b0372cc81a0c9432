"""Tables of education, one module per sub-domain."""

from infocity.education.models import directory, kindergarten

__all__ = ["directory", "kindergarten"]
