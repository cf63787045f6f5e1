"""The sign-up form allauth shows, extended so that it does not list the customers.

It lives apart from `forms.SignupForm` (the extra fields allauth builds its own form
on), because allauth's form module imports that one while it loads.
"""

from allauth.account.forms import SignupForm
from django.contrib.auth.hashers import make_password


class PatientSignupForm(SignupForm):
    def try_save(self, request):
        """With enumeration prevention, an address that has an account gets a mail
        instead of a new account; hashing the password all the same makes that answer
        cost what creating an account costs (one hash), so its speed tells nothing."""
        if self.account_already_exists:
            make_password(self.cleaned_data["password1"])
        return super().try_save(request)
