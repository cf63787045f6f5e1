from .lot import EXPIRES_SOON_DAYS, Lot, LotQuerySet
from .record import DispenseRecord, FinalCheck, OrderToCheck

__all__ = [
    "EXPIRES_SOON_DAYS",
    "DispenseRecord",
    "FinalCheck",
    "Lot",
    "LotQuerySet",
    "OrderToCheck",
]
