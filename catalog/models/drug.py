"""The drug and its monograph: what the drug page shows."""

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

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
    in_patient_leaflet = models.BooleanField(
        "in the patient leaflet",
        default=True,
        help_text="Printed in the leaflet that goes with every dispensed package; untick the "
        "storefront's own sections (prices, ordering).",
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
