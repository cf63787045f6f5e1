"""The patient's auto-refill form: which package of the prescription's medicine, how many."""

from django import forms

from catalog.models import Package

from .cart import MAX_PACKAGES_PER_LINE


class AutoRefillForm(forms.Form):
    package = forms.ModelChoiceField(
        queryset=Package.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"invalid_choice": "Choose a package of this prescription's medicine."},
    )
    quantity = forms.IntegerField(
        label="Packages each time", min_value=1, max_value=MAX_PACKAGES_PER_LINE, initial=1
    )

    def __init__(self, *args, prescription, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["package"]
        field.queryset = Package.objects.purchasable().filter(
            formulation_id=prescription.formulation_id
        )
        field.label_from_instance = lambda package: f"{package.label}, ${package.price}"
