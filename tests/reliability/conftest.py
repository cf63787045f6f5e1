from pathlib import Path

import pytest

from tests.reliability import faults


@pytest.fixture(autouse=True)
def services_restored(transactional_db):
    """A backstop: Redis and PostgreSQL answer again before the tables are emptied.

    Each fault restarts its own service in a `finally`; this catches a test that died
    between the two in a way no `finally` saw. It depends on the database fixture, so
    it is torn down first, while the flush is still to come.
    """
    yield
    faults.ensure_services_up()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """This folder runs last, after pytest-django's ordering: its outages fall on nobody else."""
    here = Path(__file__).resolve().parent
    items.sort(key=lambda item: here in Path(str(item.path)).parents)
