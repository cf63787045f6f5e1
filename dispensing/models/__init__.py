from .lot import EXPIRES_SOON_DAYS, Lot, LotQuerySet
from .recall import Recall, RecallNotice
from .record import DispenseRecord, FinalCheck, OrderToCheck

__all__ = [
    "EXPIRES_SOON_DAYS",
    "DispenseRecord",
    "FinalCheck",
    "Lot",
    "LotQuerySet",
    "OrderToCheck",
    "Recall",
    "RecallNotice",
]
