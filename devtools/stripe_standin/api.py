"""The `/v1` endpoints: each reads its params, asks the store, and returns Stripe's JSON.

Authentication and idempotency are the HTTP layer's business (`app.py`); here an
endpoint is a plain function of the store and one parsed request.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .cards import customer_json, payment_method_json, setup_intent_json
from .checkout import build_session
from .errors import no_such, param_error, unrecognized_url
from .objects import charge_json, event_json, line_item_json, list_json, refund_json
from .params import Params, get_int, get_list, get_metadata, get_str, reject_unknown
from .store import Store

PAGE_PARAMS = {"limit", "starting_after", "ending_before"}
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
SESSION_STATUSES = ("open", "complete", "expired")
# `PaymentIntentCancelParams.cancellation_reason` in the `stripe` library.
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
# `PaymentIntentCreateParams` in the `stripe` library, the subset an off-session charge uses.
PAYMENT_INTENT_PARAMS = {
    "amount",
    "currency",
    "customer",
    "payment_method",
    "payment_method_types",
    "off_session",
    "confirm",
    "error_on_requires_action",
    "metadata",
    "description",
    "receipt_email",
    "expand",
}


@dataclass
class ApiRequest:
    method: str
    path: str
    params: Params


Endpoint = Callable[[Store, ApiRequest, str], dict[str, Any]]


def _expand(params: Params, allowed: set[str]) -> set[str]:
    paths = get_list(params, "expand") or []
    for index, path in enumerate(paths):
        if path not in allowed:
            raise param_error(
                f"expand[{index}]", f"The local Stripe stand-in cannot expand {path!s}."
            )
    return set(paths)


def _page(
    items: list[dict[str, Any]],
    params: Params,
    *,
    kind: str,
    url: str,
    keep: Callable[[dict[str, Any]], bool] = lambda item: True,
) -> dict[str, Any]:
    """Stripe's cursor pagination over a newest-first list; the cursor need not match filters."""
    limit = get_int(params, "limit", minimum=1, maximum=100) or 10
    after = get_str(params, "starting_after")
    before = get_str(params, "ending_before")
    if after and before:
        raise param_error(
            "ending_before",
            "You may only specify one of these parameters: ending_before, starting_after.",
        )
    ids = [item["id"] for item in items]
    cursor = after or before
    if cursor and cursor not in ids:
        raise no_such(
            kind, cursor, param="starting_after" if after else "ending_before", status=400
        )
    if after:
        candidates = [item for item in items[ids.index(after) + 1 :] if keep(item)]
        data = candidates[:limit]
    elif before:
        candidates = [item for item in items[: ids.index(before)] if keep(item)]
        data = candidates[-limit:]
    else:
        candidates = [item for item in items if keep(item)]
        data = candidates[:limit]
    return list_json(data, has_more=len(candidates) > limit, url=url)


def _session_or_404(store: Store, session_id: str) -> dict[str, Any]:
    body = store.session_data(session_id)
    if body is None:
        raise no_such("checkout.session", session_id, param="session")
    return body


def _with_line_items(store: Store, body: dict[str, Any], expand: set[str]) -> dict[str, Any]:
    if "line_items" in expand:
        session = store.session(body["id"])
        items = [line_item_json(item, body["created"]) for item in session.line_items]
        url = f"/v1/checkout/sessions/{body['id']}/line_items"
        body["line_items"] = list_json(items, has_more=False, url=url)
    return body


def create_session(store: Store, request: ApiRequest, _: str) -> dict[str, Any]:
    expand = _expand(request.params, {"line_items"})
    session = build_session(request.params, now=store.now(), customers=store.customer_ids())
    return _with_line_items(store, store.add_session(session), expand)


def list_sessions(store: Store, request: ApiRequest, _: str) -> dict[str, Any]:
    params = request.params
    reject_unknown(params, PAGE_PARAMS | {"status", "payment_intent"})
    status = get_str(params, "status")
    if status is not None and status not in SESSION_STATUSES:
        raise param_error("status", "Invalid status: must be one of open, complete, or expired")
    payment_intent = get_str(params, "payment_intent")

    def keep(session: dict[str, Any]) -> bool:
        return (status is None or session["status"] == status) and (
            payment_intent is None or session["payment_intent"] == payment_intent
        )

    return _page(
        store.sessions_data(),
        params,
        kind="checkout.session",
        url="/v1/checkout/sessions",
        keep=keep,
    )


def retrieve_session(store: Store, request: ApiRequest, session_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand"})
    expand = _expand(request.params, {"line_items"})
    return _with_line_items(store, _session_or_404(store, session_id), expand)


def list_line_items(store: Store, request: ApiRequest, session_id: str) -> dict[str, Any]:
    reject_unknown(request.params, PAGE_PARAMS)
    session = store.session(session_id)
    if session is None:
        raise no_such("checkout.session", session_id, param="session")
    items = [line_item_json(item, session.created) for item in session.line_items]
    return _page(
        items, request.params, kind="item", url=f"/v1/checkout/sessions/{session_id}/line_items"
    )


def expire_session(store: Store, request: ApiRequest, session_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand"})
    expand = _expand(request.params, {"line_items"})
    body = store.expire(session_id)
    if body is None:
        raise no_such("checkout.session", session_id, param="session")
    return _with_line_items(store, body, expand)


def create_refund(store: Store, request: ApiRequest, _: str) -> dict[str, Any]:
    params = request.params
    reject_unknown(params, {"payment_intent", "charge", "amount", "reason", "metadata", "expand"})
    _expand(params, set())
    payment_intent = get_str(params, "payment_intent")
    charge = get_str(params, "charge")
    if payment_intent is None and charge is None:
        raise param_error("payment_intent", "One of `charge` or `payment_intent` is required.")
    amount = get_int(params, "amount", minimum=1)
    reason = get_str(params, "reason")
    if reason is not None and reason not in REFUND_REASONS:
        raise param_error(
            "reason",
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
        )
    metadata = get_metadata(params)
    payment = None
    if payment_intent is not None:
        payment = store.payment(payment_intent=payment_intent)
        if payment is None:
            raise no_such("payment_intent", payment_intent, param="payment_intent", status=400)
    if charge is not None:
        by_charge = store.payment(charge=charge)
        if by_charge is None:
            raise no_such("charge", charge, param="charge", status=400)
        if payment is not None and by_charge is not payment:
            raise param_error("charge", f"Charge {charge} does not belong to {payment_intent}.")
        payment = by_charge
    refund = store.refund(payment, amount=amount, reason=reason, metadata=metadata)
    return refund_json(refund)


def retrieve_refund(store: Store, request: ApiRequest, refund_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand"})
    refund = store.refund_by_id(refund_id)
    if refund is None:
        raise no_such("refund", refund_id, param="id")
    return refund_json(refund)


def _payment_or_404(store: Store, payment_intent: str):
    payment = store.payment(payment_intent=payment_intent)
    if payment is None:
        raise no_such("payment_intent", payment_intent, param="intent")
    return payment


def _with_charge(store: Store, body: dict[str, Any], expand: set[str]) -> dict[str, Any]:
    if "latest_charge" in expand:
        body["latest_charge"] = charge_json(store.payment(payment_intent=body["id"]))
    return body


def retrieve_payment_intent(store: Store, request: ApiRequest, intent: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand", "client_secret"})
    expand = _expand(request.params, {"latest_charge"})
    body = store.payment_data(intent)
    if body is None:
        raise no_such("payment_intent", intent, param="intent")
    return _with_charge(store, body, expand)


def capture_payment_intent(store: Store, request: ApiRequest, intent: str) -> dict[str, Any]:
    params = request.params
    reject_unknown(params, {"amount_to_capture", "expand"})
    expand = _expand(params, {"latest_charge"})
    amount = get_int(params, "amount_to_capture", minimum=1)
    payment = _payment_or_404(store, intent)
    return _with_charge(store, store.capture(payment, amount=amount), expand)


def cancel_payment_intent(store: Store, request: ApiRequest, intent: str) -> dict[str, Any]:
    params = request.params
    reject_unknown(params, {"cancellation_reason", "expand"})
    expand = _expand(params, {"latest_charge"})
    reason = get_str(params, "cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise param_error(
            "cancellation_reason",
            "Invalid cancellation_reason: must be one of duplicate, fraudulent, "
            "requested_by_customer, or abandoned",
        )
    payment = _payment_or_404(store, intent)
    return _with_charge(store, store.cancel(payment, reason=reason), expand)


def _bool(params: Params, key: str) -> bool:
    value = get_str(params, key)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise param_error(key, f"Invalid boolean: {value}")
    return value == "true"


def create_payment_intent(store: Store, request: ApiRequest, _: str) -> dict[str, Any]:
    """Only the off-session charge of a saved card: `confirm=true` with a `payment_method`."""
    params = request.params
    reject_unknown(params, PAYMENT_INTENT_PARAMS)
    _expand(params, set())
    amount = get_int(params, "amount", required=True, minimum=1) or 0
    currency = (get_str(params, "currency", required=True) or "").lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise param_error("currency", f"Invalid currency: {currency}")
    if not _bool(params, "confirm"):
        raise param_error(
            "confirm", "The local Stripe stand-in creates PaymentIntents only with confirm=true."
        )
    method = get_str(params, "payment_method", required=True) or ""
    off_session_value = get_str(params, "off_session")
    if off_session_value not in (None, "true", "false", "one_off", "recurring"):
        raise param_error("off_session", f"Invalid off_session: {off_session_value}")
    return store.charge_saved_card(
        amount=amount,
        currency=currency,
        customer=get_str(params, "customer"),
        method_id=method,
        off_session=off_session_value not in (None, "false"),
        metadata=get_metadata(params),
        description=get_str(params, "description", max_length=1000),
        receipt_email=get_str(params, "receipt_email"),
    )


def create_customer(store: Store, request: ApiRequest, _: str) -> dict[str, Any]:
    params = request.params
    reject_unknown(params, {"email", "name", "metadata", "description", "expand"})
    _expand(params, set())
    return store.add_customer(
        email=get_str(params, "email", max_length=512),
        name=get_str(params, "name", max_length=256),
        metadata=get_metadata(params),
    )


def retrieve_customer(store: Store, request: ApiRequest, customer_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand"})
    customer = store.customer(customer_id)
    if customer is None:
        raise no_such("customer", customer_id, param="id")
    return customer_json(customer)


def list_customer_payment_methods(
    store: Store, request: ApiRequest, customer_id: str
) -> dict[str, Any]:
    reject_unknown(request.params, PAGE_PARAMS | {"type"})
    if store.customer(customer_id) is None:
        raise no_such("customer", customer_id, param="customer")
    return _page(
        store.payment_methods_of(customer_id),
        request.params,
        kind="payment_method",
        url=f"/v1/customers/{customer_id}/payment_methods",
    )


def retrieve_payment_method(store: Store, request: ApiRequest, method_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand"})
    method = store.payment_method(method_id)
    if method is None:
        raise no_such("PaymentMethod", method_id, param="payment_method")
    return payment_method_json(method)


def attach_payment_method(store: Store, request: ApiRequest, method_id: str) -> dict[str, Any]:
    params = request.params
    reject_unknown(params, {"customer", "expand"})
    customer = get_str(params, "customer", required=True) or ""
    return payment_method_json(store.attach(method_id, customer))


def detach_payment_method(store: Store, request: ApiRequest, method_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand"})
    return store.detach(method_id)


def retrieve_setup_intent(store: Store, request: ApiRequest, intent_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand", "client_secret"})
    expand = _expand(request.params, {"payment_method"})
    intent = store.setup_intent(intent_id)
    if intent is None:
        raise no_such("setup_intent", intent_id, param="intent")
    method = store.payment_method(intent.payment_method) if "payment_method" in expand else None
    return setup_intent_json(intent, method)


def list_events(store: Store, request: ApiRequest, _: str) -> dict[str, Any]:
    params = request.params
    reject_unknown(params, PAGE_PARAMS | {"type", "types"})
    pattern = get_str(params, "type")
    types = get_list(params, "types")
    if pattern is not None and types is not None:
        raise param_error("types", "You may only specify one of these parameters: type, types.")
    # Stripe's `type` filter takes `*` as a wildcard, e.g. `checkout.session.*`.
    matcher = re.compile(re.escape(pattern).replace(r"\*", ".*")) if pattern else None

    def keep(event: dict[str, Any]) -> bool:
        if matcher is not None:
            return bool(matcher.fullmatch(event["type"]))
        return types is None or event["type"] in types

    events = [event_json(event) for event in store.events()]
    return _page(events, params, kind="event", url="/v1/events", keep=keep)


def retrieve_event(store: Store, request: ApiRequest, event_id: str) -> dict[str, Any]:
    reject_unknown(request.params, {"expand"})
    event = store.event(event_id)
    if event is None:
        raise no_such("event", event_id, param="id")
    return event_json(event)


_ID = r"([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Endpoint]] = [
    ("POST", re.compile(r"/v1/checkout/sessions"), create_session),
    ("GET", re.compile(r"/v1/checkout/sessions"), list_sessions),
    ("GET", re.compile(rf"/v1/checkout/sessions/{_ID}"), retrieve_session),
    ("GET", re.compile(rf"/v1/checkout/sessions/{_ID}/line_items"), list_line_items),
    ("POST", re.compile(rf"/v1/checkout/sessions/{_ID}/expire"), expire_session),
    ("POST", re.compile(r"/v1/refunds"), create_refund),
    ("GET", re.compile(rf"/v1/refunds/{_ID}"), retrieve_refund),
    ("POST", re.compile(r"/v1/payment_intents"), create_payment_intent),
    ("GET", re.compile(rf"/v1/payment_intents/{_ID}"), retrieve_payment_intent),
    ("POST", re.compile(rf"/v1/payment_intents/{_ID}/capture"), capture_payment_intent),
    ("POST", re.compile(rf"/v1/payment_intents/{_ID}/cancel"), cancel_payment_intent),
    ("POST", re.compile(r"/v1/customers"), create_customer),
    ("GET", re.compile(rf"/v1/customers/{_ID}"), retrieve_customer),
    ("GET", re.compile(rf"/v1/customers/{_ID}/payment_methods"), list_customer_payment_methods),
    ("GET", re.compile(rf"/v1/payment_methods/{_ID}"), retrieve_payment_method),
    ("POST", re.compile(rf"/v1/payment_methods/{_ID}/attach"), attach_payment_method),
    ("POST", re.compile(rf"/v1/payment_methods/{_ID}/detach"), detach_payment_method),
    ("GET", re.compile(rf"/v1/setup_intents/{_ID}"), retrieve_setup_intent),
    ("GET", re.compile(r"/v1/events"), list_events),
    ("GET", re.compile(rf"/v1/events/{_ID}"), retrieve_event),
]


def dispatch(store: Store, request: ApiRequest) -> dict[str, Any]:
    """Run the endpoint for the request; raises `StripeError` with Stripe's answer."""
    for method, pattern, endpoint in ROUTES:
        match = pattern.fullmatch(request.path)
        if match and method == request.method:
            object_id = unquote(match.group(1)) if match.groups() else ""
            return endpoint(store, request, object_id)
    raise unrecognized_url(request.method, request.path)
