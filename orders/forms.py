from django import forms

from catalog.models import Package

from .cart import MAX_ID, MAX_PACKAGES_PER_LINE
from .models import DeliveryAddress


class CartAddForm(forms.Form):
    package = forms.ModelChoiceField(
        queryset=Package.objects.purchasable(),
        error_messages={"invalid_choice": "That package is not available to order."},
    )
    quantity = forms.IntegerField(min_value=1, max_value=MAX_PACKAGES_PER_LINE, initial=1)


class CartUpdateForm(forms.Form):
    package = forms.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = forms.IntegerField(
        min_value=0,
        max_value=MAX_PACKAGES_PER_LINE,
        error_messages={
            "max_value": f"You can order at most {MAX_PACKAGES_PER_LINE} of one package at a time."
        },
    )

    def clean(self):
        cleaned = super().clean()
        package, quantity = cleaned.get("package"), cleaned.get("quantity")
        # Removing a line is always allowed; setting a quantity needs a package on sale.
        if package and quantity and not Package.objects.purchasable().filter(pk=package).exists():
            raise forms.ValidationError("That package is not available to order.")
        return cleaned


class DeliveryAddressForm(forms.ModelForm):
    class Meta:
        model = DeliveryAddress
        fields = ["full_name", "line1", "line2", "city", "state", "zip_code", "phone"]
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "state": forms.Select(attrs={"autocomplete": "address-level1"}),
            "zip_code": forms.TextInput(
                attrs={"autocomplete": "postal-code", "inputmode": "numeric"}
            ),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
        }

    def clean_zip_code(self) -> str:
        return self.cleaned_data["zip_code"].strip()
