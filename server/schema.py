"""Every model imported in one place, so that metadata (migrations, tests) sees all tables."""
from forms import models as _forms  # noqa: F401
from server import models as _server  # noqa: F401
from server.db import Base
from sync import models as _sync  # noqa: F401
from sync import records as _records  # noqa: F401
from sync import case_models as _cases  # noqa: F401
from sync import review_models as _review  # noqa: F401
from sync import renovation_models as _renovation  # noqa: F401
from sync import exit_models as _exits  # noqa: F401
from sync import monitoring_models as _monitoring  # noqa: F401
from sync import outside_models as _outside  # noqa: F401

metadata = Base.metadata
