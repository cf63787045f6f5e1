from datetime import date

from django import forms
from django.utils import timezone

from catalog.models import Drug, MedicationClass

from .checks import ALCOHOL_CLASS
from .models import ConsultationQuestion, MedicalProfile
from .selectors import PROFILE_FIELDS, consultation_partners, consultation_questions
from .uploads import DocumentsField

MAX_AGE_YEARS = 130
MAX_ID = 2**63 - 1
WEIGHT_NEEDED_UNDER = 12


class BoundedMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses ids no database can hold before asking the database about them."""

    def _check_values(self, value):
        for pk in value:
            try:
                out_of_range = not -MAX_ID <= int(str(pk)) <= MAX_ID
            except ValueError:
                out_of_range = False  # not a number: the usual "invalid" message applies
            if out_of_range:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": pk},
                )
        return super()._check_values(value)


YES_NO = [("True", "Yes"), ("False", "No")]
ANSWER_NEEDED = "Please answer this question."


def _yes_no(name: str) -> forms.TypedChoiceField:
    """A yes/no question with neither answer chosen until the patient picks one."""
    field = MedicalProfile._meta.get_field(name)
    return forms.TypedChoiceField(
        label=field.verbose_name[:1].upper() + field.verbose_name[1:],
        help_text=field.help_text,
        choices=YES_NO,
        coerce=lambda value: value == "True",
        widget=forms.RadioSelect,
        error_messages={"required": ANSWER_NEEDED},
    )


class MedicalProfileForm(forms.ModelForm):
    """Every question needs an answer of the patient's own: nothing is preselected, so
    an unanswered question is never saved as "no"."""

    date_of_birth = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        help_text=MedicalProfile._meta.get_field("date_of_birth").help_text,
    )
    medication_classes = BoundedMultipleChoiceField(
        # Alcohol has a question of its own below.
        queryset=MedicationClass.objects.exclude(slug=ALCOHOL_CLASS).order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Medicines you take",
        help_text=MedicalProfile._meta.get_field("medication_classes").help_text,
    )
    hypersensitive_to = BoundedMultipleChoiceField(
        queryset=Drug.objects.filter(is_published=True).order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="I have had an allergic (hypersensitivity) reaction to",
        help_text=MedicalProfile._meta.get_field("hypersensitive_to").help_text,
    )

    pregnant = _yes_no("pregnant")
    breastfeeding = _yes_no("breastfeeding")
    hepatic_impairment = _yes_no("hepatic_impairment")
    active_peptic_ulcer = _yes_no("active_peptic_ulcer")
    epilepsy = _yes_no("epilepsy")
    psychiatric_disorder = _yes_no("psychiatric_disorder")

    class Meta:
        model = MedicalProfile
        fields = PROFILE_FIELDS
        widgets = {
            "kidney_disease": forms.RadioSelect,
            "alcohol_use": forms.RadioSelect,
            "other_medications": forms.Textarea(attrs={"rows": 3}),
            "allergies": forms.Textarea(attrs={"rows": 3}),
            "weight_kg": forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
            "egfr": forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
            "creatinine_clearance": forms.NumberInput(
                attrs={"step": "0.1", "inputmode": "decimal"}
            ),
        }
        error_messages = {
            "kidney_disease": {"required": ANSWER_NEEDED},
            "alcohol_use": {"required": ANSWER_NEEDED},
            "weight_kg": {
                "min_value": "Weight must be more than zero.",
                "max_value": "Weight must be 500 kg or less; please check the number.",
            },
            "egfr": {
                "min_value": "eGFR must be at least 1; please check the number.",
                "max_value": "eGFR must be 200 or less; please check the number.",
            },
            "creatinine_clearance": {
                "min_value": "Creatinine clearance must be at least 1 mL/min.",
                "max_value": "Creatinine clearance must be 250 mL/min or less; please check it.",
            },
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A required choice with no default offers no blank "---------" answer.
        for name in ("kidney_disease", "alcohol_use"):
            field = self.fields[name]
            field.choices = [(value, label) for value, label in field.choices if value]

    def clean_date_of_birth(self) -> date:
        born = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today:
            raise forms.ValidationError("The date of birth cannot be in the future.")
        if today.year - born.year > MAX_AGE_YEARS:
            raise forms.ValidationError(
                f"The date of birth is more than {MAX_AGE_YEARS} years ago; please check the year."
            )
        return born

    def clean(self):
        cleaned = super().clean()
        born, weight = cleaned.get("date_of_birth"), cleaned.get("weight_kg")
        if born and weight is None:
            profile = MedicalProfile(date_of_birth=born)
            if profile.age_on(timezone.localdate()) < WEIGHT_NEEDED_UNDER:
                self.add_error(
                    "weight_kg",
                    f"Weight is needed for children under {WEIGHT_NEEDED_UNDER}: "
                    "their dose is set by body weight.",
                )
        return cleaned


class _ClaimsUploads:
    """`claim_upload(count)` is called before the files are checked, and may refuse them
    (the hourly limit); the view passes it, for the signed-in patient."""

    def __init__(self, *args, claim_upload=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["documents"].claim = claim_upload


class PrescriptionUploadForm(_ClaimsUploads, forms.Form):
    documents = DocumentsField(label="Prescription files")
    drug = forms.ModelChoiceField(
        queryset=Drug.objects.filter(is_published=True),
        required=False,
        label="Medicine (if you know it)",
        empty_label="Not sure",
    )
    note = forms.CharField(
        label="Note for the pharmacist (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example, which medicine on the prescription you want us to dispense.",
    )


class PrescriptionResponseForm(_ClaimsUploads, forms.Form):
    note = forms.CharField(
        label="Your answer",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    documents = DocumentsField(label="Add a file (optional)", required=False)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("note", "").strip() and not cleaned.get("documents") and not self.errors:
            raise forms.ValidationError("Write an answer or add a file.")
        return cleaned


class ConsultationForm(forms.Form):
    """The drug's own questions (rows staff edit), the form and strength asked for, and
    the telemedicine service to ask; the medical profile is its own form beside it."""

    formulation = forms.ModelChoiceField(
        queryset=None,
        widget=forms.RadioSelect,
        label="Form and strength",
        help_text="The one your doctor mentioned, if any; the clinician decides.",
        empty_label=None,
        error_messages={"required": ANSWER_NEEDED},
    )
    partner = forms.ModelChoiceField(
        queryset=None,
        widget=forms.RadioSelect,
        label="Telemedicine service",
        help_text="A licensed clinician there reads your answers and decides.",
        empty_label=None,
        error_messages={"required": "Choose the service to ask."},
    )

    def __init__(self, *args, drug, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.questions = list(consultation_questions(drug=drug))
        self.fields["formulation"].queryset = drug.formulations.filter(sellable=True).order_by(
            "form", "strength_label"
        )
        self.fields["partner"].queryset = consultation_partners()
        for question in self.questions:
            label, required = question.text, question.required
            messages = {"required": ANSWER_NEEDED}
            if question.kind == ConsultationQuestion.Kind.YES_NO:
                field = forms.TypedChoiceField(
                    choices=YES_NO,
                    coerce=lambda value: value == "True",
                    widget=forms.RadioSelect,
                    required=required,
                    error_messages=messages,
                )
            else:
                field = forms.CharField(
                    max_length=1000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    required=required,
                    error_messages=messages,
                )
            field.label, field.help_text = label, question.help_text
            self.fields[self.question_field(question)] = field

    @staticmethod
    def question_field(question: ConsultationQuestion) -> str:
        return f"question_{question.pk}"

    @property
    def question_fields(self):
        return [self[self.question_field(q)] for q in self.questions]

    def answers(self) -> dict:
        """{question pk: True/False or the text}; a yes/no left blank is absent."""
        result = {}
        for question in self.questions:
            value = self.cleaned_data.get(self.question_field(question))
            if value not in (None, ""):
                result[question.pk] = value
        return result
