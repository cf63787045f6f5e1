"""What is sold: a drug's formulations, their packages and what they cost."""

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from .clinical import Route
from .drug import Drug

CENT = Decimal("0.01")


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
    rxnorm_code = models.CharField(
        "RxNorm code",
        max_length=20,
        blank=True,
        db_index=True,
        validators=[RegexValidator(r"^[0-9]{1,20}\Z", "An RxNorm code (RXCUI) is digits only.")],
        help_text="The RXCUI of this clinical drug (e.g. 197391 for baclofen 10 mg oral "
        "tablet): FHIR prescriptions name the medicine by it.",
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
    def unit_plural(self) -> str:
        """What a prescription's units of this form are called: tablets, capsules, mL."""
        return {
            DosageForm.TABLET: "tablets",
            DosageForm.CAPSULE: "capsules",
            DosageForm.ORAL_SOLUTION: "mL",
        }.get(self.form, "units")

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
    def price_per_pill(self) -> Decimal:
        """Price of one pill, rounded half-up to the cent; derived, never stored."""
        return (self.price / self.pill_count).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def in_stock(self) -> bool:
        return self.stock > 0
