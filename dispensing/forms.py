"""The final check's form: one row per box of a lot to pick, as the pharmacist reads it."""

from django import forms

from .services.final_check import LinePlan, LotConfirmation


class FinalCheckForm(forms.Form):
    """Built from the plan of each line: a drug-and-strength box per line, and the lot
    number, expiry and count of each lot to pick, typed (or scanned) from the boxes."""

    def __init__(self, *args, plans: list[LinePlan], **kwargs):
        super().__init__(*args, **kwargs)
        self.plans = plans
        self.rows = []
        for plan in plans:
            line = plan.line
            drug = forms.BooleanField(
                required=False,
                label=f"Boxes and label show {line.package.formulation}, as prescribed",
            )
            self.fields[f"drug-{line.pk}"] = drug
            picks = []
            for index, allocation in enumerate(plan.allocations):
                prefix = f"{line.pk}-{index}"
                self.fields[f"lot-{prefix}"] = forms.CharField(
                    label="Lot number on the boxes", max_length=40, required=False
                )
                self.fields[f"expiry-{prefix}"] = forms.DateField(
                    label="Expiry on the boxes",
                    required=False,
                    widget=forms.DateInput(attrs={"type": "date"}),
                )
                self.fields[f"qty-{prefix}"] = forms.IntegerField(
                    label="Packages counted", min_value=0, required=False
                )
                picks.append(
                    (
                        allocation,
                        self[f"lot-{prefix}"],
                        self[f"expiry-{prefix}"],
                        self[f"qty-{prefix}"],
                    )
                )
            self.rows.append((plan, self[f"drug-{line.pk}"], picks))

    def drug_confirmed_lines(self) -> set[int]:
        return {
            plan.line.pk for plan in self.plans if self.cleaned_data.get(f"drug-{plan.line.pk}")
        }

    def lot_confirmations(self) -> list[LotConfirmation]:
        confirmations = []
        for plan in self.plans:
            for index in range(len(plan.allocations)):
                prefix = f"{plan.line.pk}-{index}"
                confirmations.append(
                    LotConfirmation(
                        line_id=plan.line.pk,
                        lot_number=self.cleaned_data.get(f"lot-{prefix}") or "",
                        expiry_date=self.cleaned_data.get(f"expiry-{prefix}"),
                        quantity=self.cleaned_data.get(f"qty-{prefix}"),
                    )
                )
        return confirmations


class CounsellingAnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label="Would you like a pharmacist to talk you through this medicine?",
        choices=[
            ("accepted", "Yes, please call or write to me"),
            ("declined", "No, thank you"),
            ("question", "I have a question"),
        ],
        widget=forms.RadioSelect,
    )
    question = forms.CharField(
        label="Your question (if you have one)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Your message to the pharmacist",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Only you and the pharmacy's pharmacists read it. We email a notice "
        "when a pharmacist answers, never the message itself.",
    )
