"""One exception hierarchy for the whole platform, mapped to HTTP status in one table.

Services raise these; entry points turn them into `{"error", "code", "details"?}` bodies with
`http_status()`. Anything else that escapes a handler is a bug and becomes a logged 500.
"""

from __future__ import annotations

from typing import Any


class RLArenaError(Exception):
    """Base of every error the platform raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class ConfigurationError(RLArenaError):
    """Settings that make start-up impossible (e.g. a weak JWT_SECRET in production)."""

    code = "configuration_error"


class InvalidInput(RLArenaError):
    """The request is malformed or a field is wrong; the message says what to fix."""

    code = "invalid_input"


class Unauthenticated(RLArenaError):
    """Missing, bad or expired credentials."""

    code = "unauthenticated"


class Forbidden(RLArenaError):
    """Authenticated, but the resource belongs to someone else."""

    code = "forbidden"


class NotFound(RLArenaError):
    code = "not_found"


class MethodNotAllowed(RLArenaError):
    code = "method_not_allowed"


class Conflict(RLArenaError):
    code = "conflict"


class PayloadTooLarge(RLArenaError):
    code = "payload_too_large"


class UnsupportedMediaType(RLArenaError):
    code = "unsupported_media_type"


class RateLimited(RLArenaError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, details={"retryAfterSeconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(RLArenaError):
    """A dependency (database, broker) is down; the client may retry."""

    code = "service_unavailable"


class EventRejected(RLArenaError):
    """An event that can never be processed (bad payload, unknown type): do not redeliver."""

    code = "event_rejected"


class EventRetry(RLArenaError):
    """An event that cannot be processed yet (e.g. it arrived before what it refers to)."""

    code = "event_retry"


class ApiError(RLArenaError):
    """The platform's REST API answered with an error (its status, code, message and Retry-After),
    or could not be reached (status 0); raised by the API client (rlarena.api_client), never by a route."""

    code = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        retry_after_seconds: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, details=details, code=code)
        self.status = status
        self.retry_after_seconds = retry_after_seconds


# The one table from error class to HTTP status. Order matters: the first match wins.
HTTP_STATUS: tuple[tuple[type[RLArenaError], int], ...] = (
    (InvalidInput, 400),
    (EventRejected, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (MethodNotAllowed, 405),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (RateLimited, 429),
    (ServiceUnavailable, 503),
    (EventRetry, 503),
    (ConfigurationError, 500),
)


def http_status(error: RLArenaError) -> int:
    for cls, status in HTTP_STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_body(error: RLArenaError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error.message, "code": error.code}
    if error.details is not None:
        body["details"] = error.details
    return body


# The same errors over gRPC (the executor): status code names, derived from the HTTP table.
GRPC_CODE_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ALREADY_EXISTS",
    413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


def grpc_code_name(error: RLArenaError) -> str:
    return GRPC_CODE_BY_HTTP.get(http_status(error), "INTERNAL")
