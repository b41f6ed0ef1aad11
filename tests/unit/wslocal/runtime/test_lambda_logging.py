"""The root logger's handler as Lambda's Python runtime installs it: text lines with the
request id, or JSON objects, and the application log level for JSON logs."""

import io
import json
import logging

import pytest

from wslocal.runtime.lambda_logging import install_lambda_logging


@pytest.fixture
def root():
    """The root logger, restored after the test."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_a_text_line_is_level_utc_time_request_id_and_message(root):
    stream = io.StringIO()
    request_ids = install_lambda_logging({}, stream, prefix="[Fn] ")
    request_ids.request_id = "req-7"
    logging.getLogger("shop").error("out of %s", "stock")
    line = stream.getvalue()
    assert line.startswith("[Fn] [ERROR]\t") and line.endswith("Z\treq-7\tout of stock\n")


def test_text_logs_keep_pythons_warning_level(root):
    stream = io.StringIO()
    install_lambda_logging({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, stream)
    logging.getLogger("shop").info("hidden")
    assert stream.getvalue() == ""


def test_a_json_record_carries_lambdas_fields_and_the_extra_ones(root):
    stream = io.StringIO()
    request_ids = install_lambda_logging({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, stream)
    request_ids.request_id = "req-8"
    logging.getLogger("shop").info("sold", extra={"sku": "b7"})
    record = json.loads(stream.getvalue())
    assert record["level"] == "INFO" and record["message"] == "sold"
    assert record["logger"] == "shop" and record["requestId"] == "req-8"
    assert record["sku"] == "b7" and record["timestamp"].endswith("Z")


def test_a_json_record_of_an_exception_names_it_and_where_it_was_logged(root):
    stream = io.StringIO()
    install_lambda_logging({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, stream)
    try:
        raise KeyError("sku")
    except KeyError:
        logging.getLogger("shop").exception("lookup failed")
    record = json.loads(stream.getvalue())
    assert record["errorType"] == "KeyError" and record["errorMessage"] == "'sku'"
    assert record["stackTrace"] and ":test_a_json_record_of_an_exception" in record["location"]
    assert "requestId" not in record  # logged between calls


def test_json_logs_filter_at_info_unless_the_application_log_level_says_otherwise(root):
    stream = io.StringIO()
    install_lambda_logging({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, stream)
    logging.getLogger("shop").debug("hidden")
    assert stream.getvalue() == ""
    root.handlers.pop()
    install_lambda_logging(
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "TRACE"}, stream
    )
    logging.getLogger("shop").debug("shown")
    assert json.loads(stream.getvalue())["message"] == "shown"
