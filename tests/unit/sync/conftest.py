"""Fixtures the sync unit tests share."""
import pytest

from server.db import session_scope


@pytest.fixture
def read(sessions):
    """Call a service in a session of its own: read(coverage_for_month, None, MONTH, area_code=…)."""
    def call(service, *args, **kwargs):
        with session_scope(sessions) as session:
            return service(session, *args, **kwargs)
    return call
