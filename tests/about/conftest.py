import pytest

from about.models import StateLicence
from devtools.demo.pharmacy import ensure_demo_pharmacy


@pytest.fixture
def demo_pharmacy(db, django_capture_on_commit_callbacks):
    """The demo pharmacy of `seed_demo`: details, licences for five states, all notices.

    Saved as staff save it, so the cached footer is dropped when the rows commit. The
    suite's own New York licence makes way for the demo's.
    """
    with django_capture_on_commit_callbacks(execute=True):
        StateLicence.objects.all().delete()
        return ensure_demo_pharmacy()
