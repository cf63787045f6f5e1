"""The admin of the prescriptions app; importing the modules registers them."""

from . import consultations, partners, queue, records

__all__ = ["consultations", "partners", "queue", "records"]
