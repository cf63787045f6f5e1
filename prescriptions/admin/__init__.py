"""The admin of the prescriptions app; importing the modules registers them."""

from . import partners, queue, records

__all__ = ["partners", "queue", "records"]
