"""The fault tests share the stream app's SQS engine fixture."""

from tests.integration.test_stream_source import sqs_engine  # noqa: F401  (a fixture)
