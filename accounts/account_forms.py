"""allauth's sign-up and sign-in forms, extended for what the pharmacy needs.

They live apart from `forms.SignupForm` (the extra fields allauth builds its own
sign-up form on), because allauth's form module imports that one while it loads.
"""

from allauth.account.forms import LoginForm, SignupForm
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError

from .addresses import canonical_email


class PatientSignupForm(SignupForm):
    def try_save(self, request):
        """With enumeration prevention, an address that has an account gets a mail
        instead of a new account; hashing the password all the same makes that answer
        cost what creating an account costs (one hash), so its speed tells nothing."""
        if self.account_already_exists:
            make_password(self.cleaned_data["password1"])
        return super().try_save(request)


class PatientLoginForm(LoginForm):
    def clean_login(self) -> str:
        """Addresses are stored canonical (domain in IDNA), so the one typed is too:
        `ana@bücher.de` signs in to the account stored as `ana@xn--bcher-kva.de`."""
        login = super().clean_login()
        try:
            return canonical_email(login)
        except ValidationError:
            return login  # not an address: allauth answers that the sign-in is wrong
