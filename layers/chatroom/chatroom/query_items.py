"""A Query's items taken as DynamoDB answers them, when botocore's parser would not change
them.

botocore parses a Query's answer by walking its output shape: for every attribute value
of every item it visits each of ``AttributeValue``'s ten members, about 3 µs of CPU a
value, where ``json.loads`` of the whole body costs a sixth of that. For a scalar value
(``S``, ``N``: strings, ``BOOL``, ``NULL``: booleans) that walk returns the value as it
came. ``take_scalar_items``, a ``before-parse`` hook (botocore's own way to give part of
an answer itself), takes the items out of a successful answer whose every value is such a
scalar and hands them over as they are; botocore parses the rest of the answer (``Count``,
``LastEvaluatedKey``...) and anything else (errors, items holding lists, maps, sets or
binary values, a body that is not JSON) as it always does. The request, its signature,
retries and errors stay botocore's (docs/benchmarks.md, "The seventh pass").

botocore emits the event (with ``customized_response_dict``) from 1.35.16 on; an older one
(a Lambda runtime's bundled botocore may be) never calls the hook and parses everything
itself, correct and as slow as before. With botocore's debug log on, its "Response body"
line shows the body the parser got: the answer without its ``Items``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

QUERY_BEFORE_PARSE = "before-parse.dynamodb.Query"
SCALAR_TYPES: Mapping[str, type] = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
"""The attribute values whose parse by botocore's JSON parser is the value itself."""


def with_scalar_items_taken(client: Any) -> Any:
    """``client`` (a DynamoDB client), its Queries' scalar items taken as answered."""
    client.meta.events.register(
        QUERY_BEFORE_PARSE, take_scalar_items, unique_id="chatroom.query_items"
    )
    return client


def take_scalar_items(
    response_dict: dict[str, Any],
    customized_response_dict: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    """botocore's ``before-parse`` hook: moves a successful answer's ``Items`` into
    ``customized_response_dict`` (botocore adds it to what it parsed) when they hold
    only scalar values; otherwise leaves the answer to botocore. ``customized_response_dict``
    came with the event (botocore 1.35.16); its default only keeps a caller without it
    (a test, another emitter) on botocore's parse."""
    if (
        customized_response_dict is None
        or response_dict["status_code"] >= 300
        or not response_dict["body"]
    ):
        return
    try:
        answer = json.loads(response_dict["body"].decode("utf-8"))
    except ValueError:  # botocore's parser answers this its own way
        return
    if type(answer) is not dict:
        return
    items = answer.pop("Items", None)
    if type(items) is not list or not all(_scalar_only(item) for item in items):
        return
    response_dict["body"] = json.dumps(answer).encode("utf-8")
    customized_response_dict["Items"] = items


def _scalar_only(item: Any) -> bool:
    if type(item) is not dict:
        return False
    for value in item.values():
        if type(value) is not dict or len(value) != 1:
            return False
        for kind, scalar in value.items():
            if type(scalar) is not SCALAR_TYPES.get(kind):
                return False
    return True
