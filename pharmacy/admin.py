"""Admin pieces shared by the apps (not domain code)."""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

READ_ONLY_METHODS = ("GET", "HEAD")
REASON_FIELD = "change_reason"
# simple-history keeps a reason of at most 100 characters.
REASON_MAX_LENGTH = 100


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


class ChangeReasonForm(forms.ModelForm):
    """A model form with an optional "Reason for change", kept in the record's history.

    The fields named in `reason_required_for` (set by the admin) need one when they
    change on an existing record.
    """

    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text="Kept in the history with your name and the date, e.g. "
        "“Supplier price rise” or “Wording from the 2026 label”.",
    )
    reason_required_for: tuple[str, ...] = ()

    def clean(self):
        cleaned = super().clean()
        cleaned[REASON_FIELD] = (cleaned.get(REASON_FIELD) or "").strip()
        if self.instance.pk and not cleaned[REASON_FIELD]:
            changed = [name for name in self.reason_required_for if name in self.changed_data]
            if changed:
                labels = " and ".join(str(self.fields[name].label).lower() for name in changed)
                self.add_error(
                    REASON_FIELD,
                    f"Say why the {labels} changes: the reason is kept in the history.",
                )
        return cleaned


class ChangesInWords(HistoricalRecordContextHelper):
    """Before -> after as staff read them: a choice's label ("Contraindicated"), not
    its stored value ("contraindicated"), and Yes/No for a box."""

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if getattr(field, "choices", None) and not field.many_to_many:
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if value in (None, ""):
            return "(empty)"
        return super().prepare_delta_change_value(change, value)


class RestorableHistoryAdmin(HistoryAdmin):
    """History that says why: each save records who and a reason, and the history page
    offers "Restore this version" (POST, with the change permission) to staff who may
    change the record.

    Restoring is the app's service (`restore_service`, keyword-only `model`,
    `object_id`, `history_id`, `actor`), which writes a new version; the old one is
    never written back as such. Inline rows saved with the record get its reason.
    """

    form = ChangeReasonForm
    object_history_list_template = "simple_history/object_history_list.html"
    reason_required_for: tuple[str, ...] = ()
    restore_service = None

    # The form -------------------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.reason_required_for = self.reason_required_for
        return form

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not self._takes_reason(request, obj):
            return [name for name in fields if name != REASON_FIELD]
        return fields if REASON_FIELD in fields else [*fields, REASON_FIELD]

    def get_fieldsets(self, request, obj=None):
        if not self.fieldsets:
            return super().get_fieldsets(request, obj)
        fieldsets = list(super().get_fieldsets(request, obj))
        if self._takes_reason(request, obj):
            fieldsets.append(("History", {"fields": [REASON_FIELD]}))
        return fieldsets

    def get_historical_record_context_helper(self, request, historical_record):
        return ChangesInWords(self.model, historical_record)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        request.viewing_a_version = True  # an old version's page asks no reason
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _takes_reason(self, request, obj) -> bool:
        if getattr(request, "viewing_a_version", False):
            return False
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    def note_change(self, request, obj, form) -> None:
        """Who and why, for the version the coming save writes."""
        obj._history_user = request.user
        obj._change_reason = form.cleaned_data.get(REASON_FIELD) or None

    def save_model(self, request, obj, form, change):
        self.note_change(request, obj, form)
        obj.save()

    def save_formset(self, request, form, formset, change):
        reason = form.cleaned_data.get(REASON_FIELD) or None
        for row in formset.save(commit=False):
            row._history_user, row._change_reason = request.user, reason
            row.save()
        for row in formset.deleted_objects:
            row._history_user, row._change_reason = request.user, reason
            row.delete()
        formset.save_m2m()

    # Restoring ------------------------------------------------------------------

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/history/<int:version_id>/restore/",
                self.admin_site.admin_view(self.restore_view),
                name=f"{opts.app_label}_{opts.model_name}_restore_version",
            ),
            *super().get_urls(),
        ]

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        opts = self.model._meta
        context = {
            "can_restore": obj is not None and self.has_change_permission(request, obj),
            "restore_url_name": f"admin:{opts.app_label}_{opts.model_name}_restore_version",
            **(extra_context or {}),
        }
        return super().history_view(request, object_id, context)

    def restore_view(self, request, object_id, version_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        opts = self.model._meta
        try:
            restored = self.restore_service(
                model=self.model, object_id=obj.pk, history_id=version_id, actor=request.user
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            reason = restored.history.latest().history_change_reason
            self.message_user(request, f"{restored}: {reason}.", messages.SUCCESS)
        return redirect(f"admin:{opts.app_label}_{opts.model_name}_history", obj.pk)
