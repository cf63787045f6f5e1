"""Admin pieces shared by the apps (not domain code)."""

from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed
from simple_history.admin import SimpleHistoryAdmin

READ_ONLY_METHODS = ("GET", "HEAD")


class HistoryAdmin(SimpleHistoryAdmin):
    """django-simple-history's admin, read-only: history is looked at, never written back.

    Its version page is a form that saves the old version over the record on POST,
    whatever SIMPLE_HISTORY_REVERT_DISABLED says (the setting only hides the button),
    and without the services that re-check and record a change. So the version page
    answers 405 to anything but GET; a change goes through the record's own form.

    It also answers 404 rather than 500 for a malformed id: its views look the
    object up without catching the ValueError a non-numeric id raises.
    """

    def revert_disabled(self, request, obj=None):
        return True

    def history_view(self, request, object_id, extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in READ_ONLY_METHODS:
            return HttpResponseNotAllowed(READ_ONLY_METHODS)
        try:  # a deleted record's versions stay readable, so no get_object() here
            self.model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            raise Http404 from None
        if not str(version_id).isdigit():
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)
