"""The admin of the prescriptions app; importing the modules registers them."""

from . import queue, records

__all__ = ["queue", "records"]
