from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from pharmacy.page_versions import PagesQuerySet


class KidneyDisease(models.TextChoices):
    NONE = "none", "No kidney disease"
    CHRONIC = "chronic", "Chronic kidney disease (CKD)"
    END_STAGE = "end_stage", "End-stage kidney disease (ESRD, dialysis)"


class AlcoholUse(models.TextChoices):
    NONE = "none", "I do not drink alcohol"
    OCCASIONAL = "occasional", "Occasionally (a few drinks a week or less)"
    REGULAR = "regular", "Regularly (most days)"


class MedicalProfile(models.Model):
    """What a pharmacist needs to know about a patient to dispense safely."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="medical_profile"
    )
    date_of_birth = models.DateField(
        null=True,
        help_text="Maximum doses depend on age; children and people over 65 need extra care.",
    )
    weight_kg = models.DecimalField(
        "weight (kg)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal(500))],
        help_text="Needed for children under 12, whose dose is set by body weight.",
    )
    # None is "not answered", which no choice (and no empty string) may stand for.
    kidney_disease = models.CharField(  # noqa: DJ001
        max_length=20,
        choices=KidneyDisease,
        null=True,
        help_text="Many medicines leave the body through the kidneys; kidney disease changes the dose.",
    )
    pregnant = models.BooleanField(
        "pregnant or planning a pregnancy",
        null=True,
        help_text="The prescriber weighs benefits against risks to the baby.",
    )
    breastfeeding = models.BooleanField(
        null=True, help_text="Some medicines pass into breast milk in small amounts."
    )
    medication_classes = models.ManyToManyField(
        "catalog.MedicationClass",
        blank=True,
        related_name="+",
        verbose_name="medicines you take",
        help_text="Some medicines add to each other's effects, e.g. drowsiness or low blood pressure.",
    )
    other_medications = models.TextField(
        "other medicines and supplements",
        blank=True,
        help_text="Anything else you take, with the dose if you know it.",
    )
    hypersensitive_to = models.ManyToManyField(
        "catalog.Drug",
        blank=True,
        related_name="+",
        verbose_name="known allergic reactions to",
        help_text="We never dispense a medicine you have reacted to before.",
    )
    allergies = models.TextField(
        "other allergies and hypersensitivities",
        blank=True,
        help_text="Other medicines, foods or ingredients (e.g. lactose) you react to.",
    )
    egfr = models.DecimalField(
        "eGFR (mL/min/1.73 m²), if you know it",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(1)), MaxValueValidator(Decimal(200))],
        help_text="From your latest blood test; some doses are set by this number.",
    )
    creatinine_clearance = models.DecimalField(
        "creatinine clearance (mL/min), if you know it",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(1)), MaxValueValidator(Decimal(250))],
        help_text="Your doctor may have given this instead of the eGFR.",
    )
    hepatic_impairment = models.BooleanField(
        "liver disease or reduced liver function (hepatic impairment)",
        null=True,
        help_text="The liver breaks down many medicines; some must be avoided or reduced.",
    )
    active_peptic_ulcer = models.BooleanField(
        "active stomach or duodenal (peptic) ulcer",
        null=True,
        help_text="Some medicines should be avoided while an ulcer is active.",
    )
    epilepsy = models.BooleanField(
        "epilepsy or seizures", null=True, help_text="Needs extra monitoring."
    )
    psychiatric_disorder = models.BooleanField(
        "a psychiatric condition",
        null=True,
        help_text="Some medicines can make symptoms worse; needs extra monitoring.",
    )
    alcohol_use = models.CharField(  # noqa: DJ001 (None: not answered)
        max_length=20,
        choices=AlcoholUse,
        null=True,
        help_text="Alcohol adds to the drowsiness some medicines cause.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the patient last saved the profile or confirmed it is still correct.",
    )

    # Each change moves the patient's pages token (pharmacy/page_versions.py).
    objects = PagesQuerySet.as_manager()
    PAGES_PATIENT = "user_id"

    history = HistoricalRecords(m2m_fields=[medication_classes, hypersensitive_to])

    # The questions the patient answers yes/no or by choosing; None is "not answered",
    # which the clinical checks read as unknown, never as "no".
    QUESTIONS = (
        "pregnant",
        "breastfeeding",
        "kidney_disease",
        "hepatic_impairment",
        "active_peptic_ulcer",
        "epilepsy",
        "psychiatric_disorder",
        "alcohol_use",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight_kg__isnull=True)
                | models.Q(weight_kg__gt=0, weight_kg__lte=500),
                name="profile_weight_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(egfr__isnull=True) | models.Q(egfr__gt=0, egfr__lte=200),
                name="profile_egfr_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(creatinine_clearance__isnull=True)
                | models.Q(creatinine_clearance__gt=0, creatinine_clearance__lte=250),
                name="profile_creatinine_clearance_in_range",
            ),
        ]

    def __str__(self):
        return f"Medical profile of {self.user}"

    @property
    def confirmed_on(self) -> date | None:
        return timezone.localdate(self.confirmed_at) if self.confirmed_at else None

    @property
    def unanswered(self) -> list[str]:
        """The questions the patient has not answered yet, as the form names them."""
        return [
            str(self._meta.get_field(name).verbose_name)
            for name in self.QUESTIONS
            if getattr(self, name) is None
        ]

    def age_on(self, day: date) -> int | None:
        born = self.date_of_birth
        if born is None:
            return None
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
