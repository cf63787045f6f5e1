"""The patient's medical profile."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import MedicalProfile
from .prescriptions import recheck_patient_prescriptions

PROFILE_M2M_FIELDS = ("medication_classes", "hypersensitive_to")


@transaction.atomic
def profile_update(*, patient, data: dict) -> MedicalProfile:
    """Save the patient's medical profile as one change in its history.

    `data` is a form's cleaned data. Many-to-many changes are applied without
    history of their own, then one save records the whole edit, so the pharmacist
    sees one entry per edit with every field that changed. Saving the form is the
    patient's statement that the profile is correct, so it counts as a confirmation.
    """
    profile = MedicalProfile.objects.select_for_update().filter(user=patient).first()
    if profile is None:
        profile = MedicalProfile(user=patient)
        profile.skip_history_when_saving = True
        profile.save()
    profile.skip_history_when_saving = True
    for name, value in data.items():
        if name in PROFILE_M2M_FIELDS:
            getattr(profile, name).set(value)
        else:
            setattr(profile, name, value)
    del profile.skip_history_when_saving
    profile.confirmed_at = timezone.now()
    profile.save()
    recheck_patient_prescriptions(patient=patient)
    return profile


@transaction.atomic
def profile_confirm(*, patient) -> MedicalProfile:
    """The patient says their profile is still correct, without changing it.

    The review refuses orders on a profile not confirmed within PROFILE_CONFIRM_DAYS:
    what a patient takes and has changes, and a stale answer screens nothing.
    """
    profile = MedicalProfile.objects.select_for_update().filter(user=patient).first()
    if profile is None:
        raise ValidationError("Fill in your medical profile first; there is nothing to confirm.")
    profile.confirmed_at = timezone.now()
    profile._history_user = patient
    profile.save()
    recheck_patient_prescriptions(patient=patient)
    return profile
