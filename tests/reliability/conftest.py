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


HERE = Path(__file__).resolve().parent


def pytest_itemcollected(item):
    """Marks this folder's tests `outage`: they stop the shared PostgreSQL and Redis, so
    `make test` runs them on their own, after the tests that run in parallel."""
    if HERE in Path(str(item.path)).parents:
        item.add_marker(pytest.mark.outage)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """This folder runs last, after pytest-django's ordering: its outages fall on nobody else."""
    items.sort(key=lambda item: HERE in Path(str(item.path)).parents)
