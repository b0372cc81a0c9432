"""Every table of every service, imported in one place for migrations and tests."""

from infocity.accounts import models as accounts_models
from infocity.cards import models as cards_models
from infocity.city import models as city_models
from infocity.connectivity import models as connectivity_models
from infocity.core import models as core_models
from infocity.core.db import Base
from infocity.education import models as education_models
from infocity.health import models as health_models
from infocity.housing import models as housing_models
from infocity.portal import models as portal_models
from infocity.safety import models as safety_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "cards_models",
    "city_models",
    "connectivity_models",
    "core_models",
    "education_models",
    "health_models",
    "housing_models",
    "metadata",
    "portal_models",
    "safety_models",
]
