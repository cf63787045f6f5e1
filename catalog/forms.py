from django import forms


class DrugSearchForm(forms.Form):
    q = forms.CharField(
        label="Search medicines",
        max_length=100,
        required=False,
        strip=True,
        error_messages={"max_length": "Please shorten your search to %(limit_value)d characters."},
    )
