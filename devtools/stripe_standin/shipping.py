"""`shipping_options` of `POST /v1/checkout/sessions`: inline shipping rates, validated
as Stripe does (`SessionCreateParamsShippingOption*` in the `stripe` library's types).

Each option is a `shipping_rate_data` (the stand-in keeps no ShippingRate objects, so a
`shipping_rate` id is one Stripe would not know). The first option is the one selected,
as on Stripe's page before the customer changes it, and its amount is part of the
session's `amount_total`; the session echoes `shipping_cost`, `shipping_options` and
`total_details.amount_shipping`.
"""

from typing import Any

from .errors import no_such, param_error
from .objects import ShippingRate
from .params import Params, get_dict, get_int, get_list, get_metadata, get_str, name, reject_unknown

MAX_OPTIONS = 5
UNITS = ("business_day", "day", "hour", "month", "week")
RATE_DATA_PARAMS = {
    "delivery_estimate",
    "display_name",
    "fixed_amount",
    "metadata",
    "tax_behavior",
    "tax_code",
    "type",
}
TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")


def shipping_rates(params: Params, *, currency: str) -> list[ShippingRate]:
    """The session's shipping rates from its create params, or Stripe's error."""
    raw = get_list(params, "shipping_options") or []
    if len(raw) > MAX_OPTIONS:
        raise param_error(
            "shipping_options",
            f"Invalid array: shipping_options can have at most {MAX_OPTIONS} items",
        )
    return [_rate(option, index, currency) for index, option in enumerate(raw)]


def _rate(option: Any, index: int, currency: str) -> ShippingRate:
    prefix = f"shipping_options[{index}]"
    if not isinstance(option, dict):
        raise param_error(prefix, f"Invalid hash: {prefix} must be a hash")
    reject_unknown(option, {"shipping_rate", "shipping_rate_data"}, prefix)
    if "shipping_rate" in option and "shipping_rate_data" in option:
        raise param_error(
            prefix,
            f"You may only specify one of these parameters: shipping_rate, {prefix}"
            "[shipping_rate_data].",
        )
    if "shipping_rate" in option:
        rate_id = str(option["shipping_rate"])
        raise no_such("shipping_rate", rate_id, param=name(prefix, "shipping_rate"), status=400)
    data_prefix = name(prefix, "shipping_rate_data")
    data = get_dict(option, "shipping_rate_data", prefix=prefix)
    if data is None:
        raise param_error(
            prefix, f"You must specify either {prefix}[shipping_rate] or {data_prefix}."
        )
    reject_unknown(data, RATE_DATA_PARAMS, data_prefix)
    kind = get_str(data, "type", prefix=data_prefix) or "fixed_amount"
    if kind != "fixed_amount":
        raise param_error(
            name(data_prefix, "type"),
            f"Invalid {data_prefix}[type]: must be fixed_amount",
        )
    display_name = get_str(data, "display_name", prefix=data_prefix, required=True, max_length=100)
    behavior = get_str(data, "tax_behavior", prefix=data_prefix)
    if behavior is not None and behavior not in TAX_BEHAVIORS:
        raise param_error(
            name(data_prefix, "tax_behavior"),
            f"Invalid {data_prefix}[tax_behavior]: must be one of exclusive, inclusive, "
            "or unspecified",
        )
    get_str(data, "tax_code", prefix=data_prefix)
    amount_prefix = name(data_prefix, "fixed_amount")
    fixed = get_dict(data, "fixed_amount", prefix=data_prefix)
    if fixed is None:
        raise param_error(
            amount_prefix, f"{amount_prefix} is required when {data_prefix}[type] is fixed_amount."
        )
    reject_unknown(fixed, {"amount", "currency", "currency_options"}, amount_prefix)
    if "currency_options" in fixed:
        raise param_error(
            name(amount_prefix, "currency_options"),
            "The local Stripe stand-in does not implement currency_options.",
        )
    amount = get_int(fixed, "amount", prefix=amount_prefix, required=True, minimum=0)
    rate_currency = (get_str(fixed, "currency", prefix=amount_prefix, required=True) or "").lower()
    if rate_currency != currency:
        raise param_error(
            name(amount_prefix, "currency"),
            f"The shipping rate's currency ({rate_currency}) must match the currency of the "
            f"line items ({currency}).",
        )
    return ShippingRate(
        display_name=display_name or "",
        amount=amount or 0,
        currency=rate_currency,
        delivery_estimate=_estimate(data, data_prefix),
        metadata=get_metadata(data, prefix=data_prefix),
    )


def _estimate(data: Params, data_prefix: str) -> dict[str, dict[str, Any] | None] | None:
    estimate_prefix = name(data_prefix, "delivery_estimate")
    estimate = get_dict(data, "delivery_estimate", prefix=data_prefix)
    if estimate is None:
        return None
    reject_unknown(estimate, {"minimum", "maximum"}, estimate_prefix)
    bounds = {key: _bound(estimate, key, estimate_prefix) for key in ("minimum", "maximum")}
    low, high = bounds["minimum"], bounds["maximum"]
    if low and high and low["unit"] == high["unit"] and high["value"] < low["value"]:
        raise param_error(
            estimate_prefix,
            f"{estimate_prefix}[maximum] must be greater than or equal to "
            f"{estimate_prefix}[minimum].",
        )
    return bounds


def _bound(estimate: Params, key: str, estimate_prefix: str) -> dict[str, Any] | None:
    prefix = name(estimate_prefix, key)
    bound = get_dict(estimate, key, prefix=estimate_prefix)
    if bound is None:
        return None
    reject_unknown(bound, {"unit", "value"}, prefix)
    unit = get_str(bound, "unit", prefix=prefix, required=True)
    if unit not in UNITS:
        raise param_error(
            name(prefix, "unit"),
            f"Invalid {prefix}[unit]: must be one of business_day, day, hour, month, or week",
        )
    value = get_int(bound, "value", prefix=prefix, required=True, minimum=1)
    return {"unit": unit, "value": value}
