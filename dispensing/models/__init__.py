from .counselling import CounsellingOffer, OrderConversation, OrderMessage
from .lot import EXPIRES_SOON_DAYS, Lot, LotQuerySet
from .recall import Recall, RecallNotice
from .record import DispenseRecord, FinalCheck, OrderToCheck

__all__ = [
    "EXPIRES_SOON_DAYS",
    "CounsellingOffer",
    "DispenseRecord",
    "FinalCheck",
    "Lot",
    "LotQuerySet",
    "OrderConversation",
    "OrderMessage",
    "OrderToCheck",
    "Recall",
    "RecallNotice",
]
