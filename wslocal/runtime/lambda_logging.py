"""The root logger as Lambda's Python runtime sets it up before a handler is imported.

A handler that calls ``logging.getLogger().warning(...)`` (or any library logging through
the root logger) gets Lambda's line: ``[WARNING]\t2026-12-03T08:20:01.123Z\t{request
id}\tmessage``; with ``LoggingConfig: LogFormat: JSON`` (AWS_LAMBDA_LOG_FORMAT) one JSON
object per record (``timestamp``, ``level``, ``message``, ``logger``, ``requestId``, the
exception's ``errorType``/``errorMessage``/``stackTrace``/``location`` and the record's
``extra`` fields), and the root logger's level set by AWS_LAMBDA_LOG_LEVEL (INFO when
unset), as Lambda filters application logs; text logs keep Python's WARNING. ``print``
stays plain text, as on Lambda. Loggers with handlers of their own (Powertools, which then
keeps its records off this one) are untouched.

Imported by the worker's bootstrap, so it runs on every Python a function may declare
(3.8 and later).
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Mapping
from typing import Any, TextIO

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
JSON_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_PYTHON_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "aws_request_id",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the call running now (empty between calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class LambdaTextFormatter(logging.Formatter):
    """Lambda's text line, after the stage's prefix for the function."""

    def __init__(self, prefix: str) -> None:
        super().__init__(TEXT_FORMAT, TEXT_DATE_FORMAT)
        self.converter = time.gmtime
        self._prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        return self._prefix + super().format(record)


class LambdaJsonFormatter(logging.Formatter):
    """One JSON object per record, with the fields Lambda's JSON logs have."""

    def __init__(self, prefix: str) -> None:
        super().__init__(datefmt=JSON_DATE_FORMAT)
        self.converter = time.gmtime
        self._prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", "") or None,
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            document["errorType"] = type(error).__name__
            document["errorMessage"] = str(error)
            document["stackTrace"] = traceback.format_tb(record.exc_info[2])
            document["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in document:
                document[name] = value
        kept = {name: value for name, value in document.items() if value is not None}
        return self._prefix + json.dumps(kept, default=str, ensure_ascii=False)


def install_lambda_logging(
    environ: Mapping[str, str], stream: TextIO, prefix: str = ""
) -> RequestIdFilter:
    """Put Lambda's handler on the root logger (its level too, for JSON logs); the filter
    returned is told each call's request id."""
    json_logs = environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LambdaJsonFormatter(prefix) if json_logs else LambdaTextFormatter(prefix))
    request_ids = RequestIdFilter()
    handler.addFilter(request_ids)
    root = logging.getLogger()
    root.addHandler(handler)
    level = environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
    if json_logs and level in LEVELS:
        root.setLevel(_PYTHON_LEVELS.get(level, level))
    return request_ids


def install_from_environment(stream: TextIO, prefix_variable: str) -> RequestIdFilter:
    """``install_lambda_logging`` with this process's variables."""
    return install_lambda_logging(os.environ, stream, os.environ.get(prefix_variable, ""))
