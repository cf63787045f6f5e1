from .counselling import CounsellingOffer, OrderConversation, OrderMessage
from .lot import EXPIRES_SOON_DAYS, Lot, LotQuerySet
from .recall import DispatchHold, Recall, RecallNotice
from .record import DispenseRecord, DispenseReturn, FinalCheck, OrderToCheck

__all__ = [
    "EXPIRES_SOON_DAYS",
    "CounsellingOffer",
    "DispatchHold",
    "DispenseRecord",
    "DispenseReturn",
    "FinalCheck",
    "Lot",
    "LotQuerySet",
    "OrderConversation",
    "OrderMessage",
    "OrderToCheck",
    "Recall",
    "RecallNotice",
]
