"""Import a route's handler module the way Lambda does: its own module, its own state."""

import importlib.util
import json
from types import ModuleType
from typing import Any

from tests.support.paths import FUNCTIONS


def load_handler(route_folder: str) -> ModuleType:
    """Import ``functions/<route_folder>/app.py`` fresh (a cold start)."""
    spec = importlib.util.spec_from_file_location(
        f"handler_{route_folder}", FUNCTIONS / route_folder / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decode_concatenated(data: bytes) -> list[dict[str, Any]]:
    """moto's management API appends every post to one buffer: split it into envelopes."""
    decoder, text, envelopes, position = json.JSONDecoder(), data.decode(), [], 0
    while position < len(text):
        envelope, position = decoder.raw_decode(text, position)
        envelopes.append(envelope)
    return envelopes


class LambdaContextStub:
    """The attributes Powertools' Logger reads from a Lambda context."""

    function_name = "test-function"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "test-request"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
