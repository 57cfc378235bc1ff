"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, test set-up)."""

from omniloop.approvals import models as _approvals  # noqa: F401
from omniloop.audiences import models as _audiences  # noqa: F401
from omniloop.benefits import models as _benefits  # noqa: F401
from omniloop.campaigns import models as _campaigns  # noqa: F401
from omniloop.contacts import models as _contacts  # noqa: F401
from omniloop.content import models as _content  # noqa: F401
from omniloop.core import audit  # noqa: F401
from omniloop.customers import models as _customers  # noqa: F401
from omniloop.delivery import models as _delivery  # noqa: F401
from omniloop.evaluation import models as _evaluation  # noqa: F401
from omniloop.events import models as _events  # noqa: F401
from omniloop.jobs import models as _jobs  # noqa: F401
from omniloop.notifications import models as _notifications  # noqa: F401
from omniloop.org import models as _org  # noqa: F401
from omniloop.placements import models as _placements  # noqa: F401
from omniloop.plans import models as _plans  # noqa: F401
from omniloop.success import models as _success  # noqa: F401
from omniloop.tags import models as _tags  # noqa: F401
from omniloop.triggers import models as _triggers  # noqa: F401
