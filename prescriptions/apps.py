from django.apps import AppConfig

from pharmacy.page_versions import watch


class PrescriptionsConfig(AppConfig):
    name = "prescriptions"
    verbose_name = "Prescriptions"

    def ready(self):
        # What the patient's own pages show (orders/page_copy.py).
        watch(self.get_model("Prescription"), self.get_model("MedicalProfile"))
