"""Admin pieces shared by the apps (not domain code)."""

from django.contrib.admin.utils import unquote
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    """django-simple-history's admin, answering 404 rather than 500 for a malformed id.

    Its history view looks the object up without catching the ValueError a
    non-numeric id raises.
    """

    def history_view(self, request, object_id, extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404
        return super().history_view(request, object_id, extra_context)
