from django import forms


class DrugSearchForm(forms.Form):
    q = forms.CharField(
        label="Search medicines",
        max_length=100,
        required=False,
        strip=True,
        error_messages={"max_length": "Please shorten your search to %(limit_value)d characters."},
    )


class StockAdjustForm(forms.Form):
    """Staff add or remove boxes; the stock itself is never typed in."""

    quantity = forms.IntegerField(
        label="Boxes to add or remove",
        help_text="A positive number adds boxes (a delivery), a negative one removes them.",
        min_value=-100_000,
        max_value=100_000,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=200,
        help_text="Kept with the change: a delivery note, breakage, a stock count.",
    )

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise forms.ValidationError("Enter how many boxes to add (e.g. 5) or remove (-5).")
        return quantity
