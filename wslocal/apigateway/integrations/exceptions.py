"""Errors of an integration call: what API Gateway answers when the backend does not.

WslocalError
└── IntegrationError            the integration gave no usable answer; the client gets
    │                           ``message`` (Internal server error), the stage's log the why
    └── EndpointTimeoutError    the backend did not answer within the integration's timeout
"""

from __future__ import annotations

from wslocal.exceptions import WslocalError

INTERNAL_SERVER_ERROR = "Internal server error"
ENDPOINT_TIMED_OUT = "Endpoint request timed out"


class IntegrationError(WslocalError):
    """``str(exc)`` is the reason for the stage's log; ``message`` is what the client gets."""

    message = INTERNAL_SERVER_ERROR


class EndpointTimeoutError(IntegrationError):
    message = ENDPOINT_TIMED_OUT
