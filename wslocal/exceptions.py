"""Errors of the local stage.

WslocalError
├── TemplateError               the template cannot be served; names resource and property
├── InvocationError             one invocation of a function failed
│   ├── HandlerError            the handler raised (carries Lambda's error fields)
│   ├── WorkerCrashedError      the worker process died mid-invocation
│   ├── InvocationTimeoutError  the handler overran the function's Timeout
│   ├── ThrottledError          its reserved concurrency is in use (Lambda's 429)
│   ├── FunctionBuildError      its build failed (npm's or esbuild's words): not started
│   └── PoolRetiredError        its workers were replaced while the call waited (a reload):
│                               the stage runs it on the new ones
├── DynamoDBError               no DynamoDB engine could be started, or tables not made
├── EventSourceError            an event source cannot run (a stream that cannot be read)
├── FilterPatternError          a FilterCriteria pattern Lambda would refuse (says which, why)
└── MappingTemplateError        a mapping template does not parse or render (with where)
    └── MappingBodyNotJsonError $input.json/$input.path on a body that is not JSON (a 400)
"""

from __future__ import annotations

from typing import Any


class WslocalError(Exception):
    """Root of every error the local stage raises."""


class TemplateError(WslocalError):
    """The template has something the local stage cannot serve.

    The message names the resource (logical id) and the property, so the user knows
    where to look.
    """

    def __init__(self, message: str, resource: str | None = None, prop: str | None = None):
        where = ""
        if resource:
            where = f"{resource}" + (f".{prop}" if prop else "") + ": "
        super().__init__(where + message)
        self.resource = resource
        self.prop = prop


class InvocationError(WslocalError):
    """An invocation did not return a result; the client gets "Internal server error"."""


class HandlerError(InvocationError):
    """The handler raised; ``error`` is Lambda's error document
    (errorType, errorMessage, stackTrace)."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")
        self.error = error


class WorkerCrashedError(InvocationError):
    """The worker process exited during an invocation; the pool replaces it."""


class FunctionBuildError(InvocationError):
    """The function's code could not be built (``npm ci``, esbuild); its message has the
    tool's own words. The function is not started until an edit builds."""


class InvocationTimeoutError(InvocationError):
    """The handler ran past the function's Timeout; the worker was killed and replaced."""


class ThrottledError(InvocationError):
    """Every execution environment the function's reserved concurrency allows is busy
    (Lambda's TooManyRequestsException)."""


class DynamoDBError(WslocalError):
    """DynamoDB could not be started or reached, or a table could not be created."""


class EventSourceError(WslocalError):
    """An event source of the template cannot run; the message names it and its table."""


class PoolRetiredError(InvocationError):
    """The pool was retired (its function edited or removed) while this call waited for
    a worker; the call has not started, so the stage runs it on the function's new pool."""


class MappingTemplateError(WslocalError):
    """A mapping template (Velocity) does not parse or does not render. API Gateway
    answers 500 "Internal server error" and logs the reason: the stage does the same.

    ``line`` and ``column`` say where, when the engine knows (a syntax error)."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None):
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"mapping template: {where}{reason}")
        self.reason = reason
        self.line = line
        self.column = column


class MappingBodyNotJsonError(MappingTemplateError):
    """The template asked ``$input.json``/``$input.path`` of a body that is not JSON.
    API Gateway answers 400 with "Could not parse request body into json: ..."."""


class FilterPatternError(WslocalError):
    """A ``FilterCriteria`` pattern Lambda would refuse; the template reader names the
    function and event it belongs to."""
