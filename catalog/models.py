import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

CENT = Decimal("0.01")
DOSING_TABLE_MARKER = "[dosing table]"


class Drug(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    also_known_as = models.CharField(max_length=200, blank=True)
    manufacturer = models.CharField(max_length=200, blank=True)
    summary = models.TextField(
        blank=True, help_text="One or two sentences shown in the drug list and search results."
    )
    prescription_required = models.BooleanField(default=True)
    is_published = models.BooleanField(
        default=True, help_text="Unpublished drugs are hidden from the storefront."
    )
    must_not_stop_suddenly = models.BooleanField(
        default=False,
        help_text="Stopping at once is dangerous: the drug page and every email to the "
        "patient say so, in the sentence below.",
    )
    stop_suddenly_warning = models.TextField(
        blank=True,
        help_text="The monograph's sentence against stopping suddenly, shown to patients.",
    )
    medication_class = models.ForeignKey(
        "MedicationClass",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="drugs",
        help_text="Its therapeutic class: two active prescriptions of one class are flagged "
        "as duplicate therapy.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    monograph_version = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Goes up with every edit of what the drug page shows; orders keep it.",
    )

    history = HistoricalRecords(excluded_fields=["monograph_version"])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:drug_detail", kwargs={"slug": self.slug})

    def clean(self):
        if self.must_not_stop_suddenly and not self.stop_suddenly_warning.strip():
            raise ValidationError(
                {"stop_suddenly_warning": "Give the sentence patients are shown."}
            )

    @property
    def stop_warning(self) -> str:
        """What patients are told about stopping this drug; empty if nothing special."""
        return self.stop_suddenly_warning.strip() if self.must_not_stop_suddenly else ""


class MonographSection(models.Model):
    drug = models.ForeignKey(Drug, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveSmallIntegerField(default=0)
    slug = models.SlugField(max_length=100, help_text="Anchor in the page's table of contents.")
    heading = models.CharField(max_length=200)
    body = models.TextField(
        blank=True,
        help_text=(
            "Paragraphs separated by a blank line; lines starting with “- ” form a list. "
            f"A line “{DOSING_TABLE_MARKER}” places the dosing table there."
        ),
    )
    callout = models.CharField(
        max_length=300,
        blank=True,
        help_text="A safety message shown at the top of the drug page, linking to this section.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["drug", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["drug", "slug"], name="section_slug_unique_per_drug")
        ]

    def __str__(self):
        return self.heading

    def blocks(self) -> list[tuple[str, object]]:
        """The body as ("p", text), ("ul", [items]) and ("dosing_table", None) blocks."""
        blocks: list[tuple[str, object]] = []
        for line in self.body.splitlines():
            line = line.strip()
            if not line:
                continue
            if line == DOSING_TABLE_MARKER:
                blocks.append(("dosing_table", None))
            elif line.startswith("- "):
                if blocks and blocks[-1][0] == "ul":
                    blocks[-1][1].append(line[2:].strip())
                else:
                    blocks.append(("ul", [line[2:].strip()]))
            else:
                blocks.append(("p", line))
        return blocks


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


class DosageForm(models.TextChoices):
    TABLET = "tablet", "Tablet"
    CAPSULE = "capsule", "Capsule"
    ORAL_SOLUTION = "oral_solution", "Oral solution"
    INTRATHECAL = "intrathecal", "Intrathecal injection"


class Formulation(models.Model):
    """A form and strength of a drug (10 mg tablet, oral solution, intrathecal)."""

    drug = models.ForeignKey(Drug, on_delete=models.CASCADE, related_name="formulations")
    position = models.PositiveSmallIntegerField(default=0)
    form = models.CharField(max_length=20, choices=DosageForm)
    strength_mg = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="mg of drug per unit (tablet); empty where it does not apply.",
    )
    strength_label = models.CharField(
        max_length=50, blank=True, help_text="As shown, e.g. “10 mg”; empty if none."
    )
    concentration_mg_per_ml = models.DecimalField(
        "concentration (mg per mL)",
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="Liquid forms: mg in one mL (5 mg/5 mL is 1), so a dose in mL becomes mg.",
    )
    sellable = models.BooleanField(
        default=True, help_text="Can be ordered online. Intrathecal forms never can."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["drug", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["drug", "form", "strength_label"], name="formulation_unique_per_drug"
            ),
            models.CheckConstraint(
                condition=~models.Q(form=DosageForm.INTRATHECAL, sellable=True),
                name="formulation_intrathecal_never_sellable",
            ),
        ]

    def __str__(self):
        parts = [self.drug.name, self.strength_label, self.get_form_display().lower()]
        return " ".join(p for p in parts if p)

    def clean(self):
        if self.form == DosageForm.INTRATHECAL and self.sellable:
            raise ValidationError({"sellable": "Intrathecal forms are never sold online."})

    @property
    def route(self) -> str:
        return Route.INTRATHECAL if self.form == DosageForm.INTRATHECAL else Route.ORAL

    @property
    def mg_per_unit(self) -> Decimal | None:
        """mg in one unit a prescription counts: a tablet or capsule, or one mL."""
        if self.strength_mg is not None:
            return self.strength_mg
        return self.concentration_mg_per_ml


class PackageQuerySet(models.QuerySet):
    def purchasable(self):
        return self.filter(
            active=True, formulation__sellable=True, formulation__drug__is_published=True
        )


class Package(models.Model):
    """A sellable unit: so many pills of one formulation at one price."""

    formulation = models.ForeignKey(Formulation, on_delete=models.PROTECT, related_name="packages")
    pill_count = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(CENT)],
        help_text="US dollars, two decimals.",
    )
    stock = models.IntegerField(
        default=0, validators=[MinValueValidator(0)], help_text="Packages on the shelf."
    )
    active = models.BooleanField(default=True, help_text="Inactive packages are not offered.")

    objects = PackageQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["formulation", "pill_count", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock__gte=0), name="package_stock_not_negative"
            ),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="package_price_positive"),
            models.CheckConstraint(
                condition=models.Q(pill_count__gt=0), name="package_count_positive"
            ),
        ]

    def __str__(self):
        return f"{self.formulation}, {self.pill_count} pills"

    @property
    def label(self) -> str:
        """How the package is named to patients, e.g. “10 mg tablets, 10 pills”."""
        form = self.formulation.get_form_display().lower()
        solid = self.formulation.form in (DosageForm.TABLET, DosageForm.CAPSULE)
        form = f"{form}s" if solid else form
        return f"{self.formulation.strength_label} {form}, {self.pill_count} pills".strip()

    def clean(self):
        if self.formulation_id and not self.formulation.sellable and self.active:
            raise ValidationError(
                {
                    "formulation": "This formulation is not sold online; the package cannot be active."
                }
            )

    @property
    def unit_price(self) -> Decimal:
        """Price of one pill, rounded half-up to the cent; derived, never stored."""
        return (self.price / self.pill_count).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


class StockAdjustment(models.Model):
    """A change of stock made by staff: how many boxes, by whom, why, and what it left.

    Written only by `catalog.services.stock_adjust`, in the transaction that moved
    the stock, so the rows add up to every staff change of the shelf.
    """

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="adjustments")
    quantity = models.IntegerField(help_text="Boxes added (positive) or removed (negative).")
    stock_after = models.PositiveIntegerField(help_text="Boxes on the shelf after the change.")
    reason = models.CharField(max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(quantity=0), name="stock_adjustment_not_zero"
            ),
        ]

    def __str__(self):
        return f"{self.package}: {self.quantity:+d} → {self.stock_after}"
