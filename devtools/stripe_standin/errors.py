"""Errors in Stripe's wire format, so the real client raises its real exception classes.

The `stripe` client picks the exception from the HTTP status and `error.type`
(401 -> AuthenticationError, 400/404 -> InvalidRequestError, `idempotency_error` ->
IdempotencyError), and reads `param` and `code` from the body: these must match.
"""

from typing import Any


class StripeError(Exception):
    """An answer in Stripe's error shape, raised anywhere under a request and rendered once.

    `saved` says whether Stripe would store this answer under the request's
    idempotency key: it stores everything except answers given before the endpoint
    started executing (bad or missing parameters, authentication). `extra` adds
    fields such as `payment_intent`, the object an error about a state refers to.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.saved = saved
        self.extra = extra or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        if request_id:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def param_error(param: str, message: str) -> StripeError:
    """A parameter Stripe refuses while validating, before anything runs (so never saved)."""
    return StripeError(400, message, param=param, saved=False)


def missing_param(param: str) -> StripeError:
    return param_error(param, f"Missing required param: {param}.")


def unknown_param(param: str) -> StripeError:
    return param_error(param, f"Received unknown parameter: {param}")


def no_such(kind: str, object_id: str, *, param: str, status: int = 404) -> StripeError:
    """Stripe answers 404 for an unknown id in the URL and 400 for one named in the body."""
    return StripeError(
        status,
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
        saved=status != 404,
    )


def unrecognized_url(method: str, path: str) -> StripeError:
    return StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
        saved=False,
    )
