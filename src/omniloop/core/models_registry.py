"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, test set-up)."""

from omniloop.audiences import models as _audiences  # noqa: F401
from omniloop.core import audit  # noqa: F401
from omniloop.customers import models as _customers  # noqa: F401
from omniloop.jobs import models as _jobs  # noqa: F401
from omniloop.org import models as _org  # noqa: F401
