"""The catalog's tables, by topic; import them from here (`from catalog.models import Drug`)."""

from .adjustment import StockAdjustment
from .clinical import (
    BLOCKING_SEVERITIES,
    SEVERITY_HELP,
    DosingGuideline,
    DrugCondition,
    Interaction,
    MedicationClass,
    ProfileFact,
    RenalMeasure,
    RenalThreshold,
    Route,
    Severity,
)
from .drug import DOSING_TABLE_MARKER, Drug, MonographSection
from .product import CENT, DosageForm, Formulation, Package, PackageQuerySet

__all__ = [
    "BLOCKING_SEVERITIES",
    "CENT",
    "DOSING_TABLE_MARKER",
    "SEVERITY_HELP",
    "DosageForm",
    "DosingGuideline",
    "Drug",
    "DrugCondition",
    "Formulation",
    "Interaction",
    "MedicationClass",
    "MonographSection",
    "Package",
    "PackageQuerySet",
    "ProfileFact",
    "RenalMeasure",
    "RenalThreshold",
    "Route",
    "Severity",
    "StockAdjustment",
]
