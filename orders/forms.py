from datetime import date
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.formats import date_format

from about.selectors import shipping_refusal
from catalog.models import Package
from prescriptions.forms import PrescriptionUploadForm

from .cart import MAX_ID, MAX_PACKAGES_PER_LINE
from .delivery import NOT_OFFERED, price_label
from .models import DeliveryAddress, ShippingOption


class CartAddForm(forms.Form):
    package = forms.ModelChoiceField(
        queryset=Package.objects.purchasable(),
        error_messages={"invalid_choice": "That package is not available to order."},
    )
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_PACKAGES_PER_LINE,
        initial=1,
        error_messages={
            "max_value": f"You can order at most {MAX_PACKAGES_PER_LINE} of one package at a time."
        },
    )


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

    def clean_state(self) -> str:
        """Said here, before payment; checkout refuses it too (services/destinations.py)."""
        state = self.cleaned_data["state"]
        refusal = shipping_refusal(state)
        if refusal:
            raise forms.ValidationError(refusal)
        return state

    def clean_zip_code(self) -> str:
        return self.cleaned_data["zip_code"].strip()


class ShippingChoiceForm(forms.Form):
    """How the order is delivered: one of the options offered now (`options`, as the
    cart lists them), the first unless the patient picks another. Each choice says its
    price, when it should arrive and what the order then costs in all (no script needed
    to see the total). An option not offered (turned off, or a forged form) is refused."""

    shipping_option = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        widget=forms.RadioSelect,
        # Not chosen (a form from before delivery options, a script): the first offered.
        required=False,
        label="Delivery",
        help_text="Dates count business days (Monday to Friday) from the day the order is paid.",
        error_messages={"invalid_choice": NOT_OFFERED},
    )

    def __init__(
        self, *args, options: list[ShippingOption], items_total: Decimal, start: date, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shipping_option"].choices = [
            (option.pk, shipping_choice_label(option, items_total, start)) for option in options
        ]
        if options and not self.is_bound:
            self.initial.setdefault("shipping_option", options[0].pk)

    @property
    def chosen_id(self) -> int | None:
        return self.cleaned_data.get("shipping_option")


def shipping_choice_label(option: ShippingOption, items_total: Decimal, start: date) -> str:
    """E.g. "Express: $15.00. Arrives Fri, Dec 4 - Mon, Dec 7. Order total $61.53"."""
    estimate = option.estimate(start=start)
    total = items_total + option.price
    return f"{option.name}: {price_label(option.price)}. {estimate.label}. Order total ${total:.2f}"


UPLOAD = "upload"
EXPECT = "expect"


class CheckoutUploadForm(PrescriptionUploadForm):
    """The prescriptions upload page's form, inside checkout: the same files, checks,
    sandbox and hourly limit; the medicine is the cart line's, not the patient's pick."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["drug"]
        self.fields["documents"].label = "Prescription files"


class CoverLineForm(forms.Form):
    """How a cart line no verified prescription covers is covered: one of the patient's
    prescriptions still with a pharmacist (`waiting`, chosen by the view), an upload
    here, or one the prescriber is to send (the order waits for it to arrive). Leaving
    it unanswered lets checkout refuse the line as before."""

    choice = forms.ChoiceField(
        widget=forms.RadioSelect,
        required=False,
        error_messages={
            "invalid_choice": (
                "That prescription is not one of yours waiting for a pharmacist for this "
                "medicine. Choose one listed here, or upload the prescription."
            )
        },
    )

    def __init__(self, *args, line, waiting, claim_upload=None, **kwargs) -> None:
        prefix = f"line-{line.package.pk}"
        super().__init__(*args, prefix=prefix, **kwargs)
        self.line = line
        field = self.fields["choice"]
        field.label = f"Prescription for {line.package.formulation.drug.name} {line.package.label}"
        field.choices = [(str(p.pk), _waiting_label(p)) for p in waiting] + [
            (UPLOAD, "Upload the prescription now"),
            (EXPECT, "My prescriber or a telemedicine service will send it to the pharmacy"),
        ]
        self.upload = CheckoutUploadForm(
            self.data if self.is_bound else None,
            self.files if self.is_bound else None,
            prefix=prefix,
            claim_upload=claim_upload,
        )

    @property
    def wants_upload(self) -> bool:
        return self.cleaned_data.get("choice") == UPLOAD

    @property
    def expects_prescription(self) -> bool:
        return self.cleaned_data.get("choice") == EXPECT

    @property
    def prescription_id(self) -> int | None:
        choice = self.cleaned_data.get("choice")
        return int(choice) if choice and choice not in (UPLOAD, EXPECT) else None


def _waiting_label(prescription) -> str:
    submitted = date_format(timezone.localtime(prescription.submitted_at), "M j, Y")
    status = prescription.get_status_display().lower()
    return f"#{prescription.pk}, sent {submitted}: {status}, waiting for a pharmacist"
