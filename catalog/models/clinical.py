"""The rows of a drug's clinical rules, which staff edit and the checks read: dosing
bands, interactions and medication classes, profile conditions, kidney thresholds."""

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from .drug import Drug


class Route(models.TextChoices):
    ORAL = "oral", "Oral"
    INTRATHECAL = "intrathecal", "Intrathecal"


class DosingGuideline(models.Model):
    """One row of the monograph's dosing table: text for patients, numbers for checks."""

    drug = models.ForeignKey(Drug, on_delete=models.CASCADE, related_name="dosing_guidelines")
    position = models.PositiveSmallIntegerField(default=0)
    patient_group = models.CharField(max_length=100)
    route = models.CharField(max_length=20, choices=Route, default=Route.ORAL)
    initial_dose = models.CharField(max_length=200)
    titration = models.CharField(max_length=200)
    maximum = models.CharField(max_length=200)
    min_age_years = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age_years = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Inclusive; empty means no upper bound."
    )
    initial_dose_mg = models.DecimalField(
        max_digits=8, decimal_places=3, null=True, blank=True, help_text="mg per dose."
    )
    initial_doses_per_day = models.PositiveSmallIntegerField(null=True, blank=True)
    titration_step_mg = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="mg added to each dose per interval (“increase by 5 mg every 3 days”).",
    )
    titration_interval_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days between increases; a faster rise since the patient's previous "
        "prescription is a finding.",
    )
    max_daily_mg = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    max_dose_mg = models.DecimalField(
        "maximum per dose (mg)",
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="mg in one administration, whatever the form (tablets or mL).",
    )
    max_doses_per_day = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="E.g. 3 for “no more than three doses in 24 hours”."
    )
    not_established = models.BooleanField(
        "safety not established",
        default=False,
        help_text="Safety and effectiveness are not established in this age band: a "
        "prescription for a patient in it is a blocking finding.",
    )
    source = models.TextField(
        blank=True,
        help_text="A monograph sentence quoted by findings on this row beyond its own text, "
        "e.g. “not established under 18”.",
    )
    min_mg_per_kg_day = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    max_mg_per_kg_day = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["drug", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_age_years__isnull=True)
                | models.Q(max_age_years__isnull=True)
                | models.Q(min_age_years__lte=models.F("max_age_years")),
                name="guideline_age_bounds_ordered",
            )
        ]

    def __str__(self):
        return f"{self.drug}: {self.patient_group}"

    def clean(self):
        if (
            self.min_age_years is not None
            and self.max_age_years is not None
            and self.min_age_years > self.max_age_years
        ):
            raise ValidationError({"max_age_years": "Must not be below the minimum age."})

    @property
    def initial_daily_mg(self) -> Decimal | None:
        if self.initial_dose_mg is None or self.initial_doses_per_day is None:
            return None
        return self.initial_dose_mg * self.initial_doses_per_day


class MedicationClass(models.Model):
    """A kind of medication a patient may be taking, as named by the interactions.

    Its substances let the checks recognise the class in the medicines a patient types
    in their own words ("oxycodone 10 mg" is an opioid).
    """

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    substances = models.TextField(
        blank=True,
        help_text=(
            "Medicines in this class, names and synonyms (brand names too), separated by "
            "commas or new lines. Each is matched as a whole word, ignoring case, against "
            "the other medicines a patient types in their profile; so is the class name."
        ),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "medication classes"

    def __str__(self):
        return self.name

    def terms(self) -> list[str]:
        """The words that name this class in free text: its name and its substances."""
        names = [self.name, *re.split(r"[,;\n]", self.substances)]
        return list(dict.fromkeys(n.strip() for n in names if n.strip()))


class Severity(models.TextChoices):
    """How much a rule matters; contraindicated and major block verification."""

    CONTRAINDICATED = "contraindicated", "Contraindicated"
    MAJOR = "major", "Major"
    MODERATE = "moderate", "Moderate"
    MONITOR = "monitor", "Monitoring"


# A finding of these severities needs a written override; the others an acknowledgement.
BLOCKING_SEVERITIES = frozenset({Severity.CONTRAINDICATED, Severity.MAJOR})
SEVERITY_HELP = (
    "Contraindicated and major block verification (the pharmacist must write an "
    "override); moderate and monitoring warn (the pharmacist ticks an acknowledgement)."
)


class Interaction(models.Model):
    drug = models.ForeignKey(Drug, on_delete=models.CASCADE, related_name="interactions")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(
        max_length=100, help_text="The interacting class, e.g. CNS depressants."
    )
    medication_classes = models.ManyToManyField(
        MedicationClass,
        related_name="interactions",
        help_text="Medications in a patient's profile that trigger this interaction.",
    )
    effect = models.TextField()
    severity = models.CharField(max_length=20, choices=Severity, help_text=SEVERITY_HELP)

    history = HistoricalRecords(m2m_fields=[medication_classes])

    class Meta:
        ordering = ["drug", "position", "pk"]

    def __str__(self):
        return f"{self.drug} + {self.name}"


class ProfileFact(models.TextChoices):
    """What a patient's medical profile can say that a drug's rules may care about."""

    HYPERSENSITIVITY = "hypersensitivity", "Hypersensitivity to this drug"
    PEPTIC_ULCER = "peptic_ulcer", "Active peptic ulcer disease"
    EPILEPSY = "epilepsy", "Epilepsy or seizures"
    PSYCHIATRIC_DISORDER = "psychiatric_disorder", "Psychiatric disorder"
    PREGNANCY = "pregnancy", "Pregnancy"
    BREASTFEEDING = "breastfeeding", "Breastfeeding"
    ELDERLY = "elderly", "Age 65 or over"
    KIDNEY_CHRONIC = "kidney_chronic", "Chronic kidney disease"
    KIDNEY_END_STAGE = "kidney_end_stage", "End-stage kidney disease"
    HEPATIC_IMPAIRMENT = "hepatic_impairment", "Hepatic impairment"


class DrugCondition(models.Model):
    """A profile fact that matters for this drug: how much, and what the monograph says.

    A fact without a row is not a finding for this drug: one drug's peptic ulcer rule
    says nothing about another.
    """

    drug = models.ForeignKey(Drug, on_delete=models.CASCADE, related_name="conditions")
    position = models.PositiveSmallIntegerField(default=0)
    fact = models.CharField(max_length=30, choices=ProfileFact)
    severity = models.CharField(max_length=20, choices=Severity, help_text=SEVERITY_HELP)
    message = models.CharField(
        max_length=300,
        help_text="What the pharmacist should do, e.g. “Dose reduction is essential.”",
    )
    source = models.TextField(
        blank=True, help_text="The monograph sentence this rests on, quoted on the finding."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["drug", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["drug", "fact"], name="condition_fact_unique_per_drug")
        ]

    def __str__(self):
        return f"{self.drug}: {self.get_fact_display()}"


class RenalMeasure(models.TextChoices):
    CREATININE_CLEARANCE = "crcl", "Creatinine clearance (mL/min)"
    EGFR = "egfr", "eGFR (mL/min/1.73 m²)"


class RenalThreshold(models.Model):
    """Kidney function as a number: below `below`, the action applies.

    When the patient has a number on file these rows decide, and the yes/no kidney
    conditions are used only for patients without one.
    """

    drug = models.ForeignKey(Drug, on_delete=models.CASCADE, related_name="renal_thresholds")
    measure = models.CharField(
        max_length=10,
        choices=RenalMeasure,
        default=RenalMeasure.CREATININE_CLEARANCE,
        help_text="The measure the monograph uses; the other one stands in when it is all there is.",
    )
    below = models.DecimalField(
        "applies below (mL/min)",
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    action = models.CharField(max_length=200, help_text="E.g. “Reduce the dose”, “Avoid”.")
    severity = models.CharField(max_length=20, choices=Severity, help_text=SEVERITY_HELP)
    source = models.TextField(
        blank=True, help_text="The monograph sentence this rests on, quoted on the finding."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["drug", "below", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(below__gt=0), name="renal_threshold_positive")
        ]

    def __str__(self):
        return f"{self.drug}: {self.get_measure_display()} below {self.below}"
