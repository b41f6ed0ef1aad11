"""Lambda's event filtering (an event source mapping's ``FilterCriteria``), as pure
functions: patterns are compiled once, when the template is read, so a pattern Lambda
would refuse is an error at start; records are matched as the pollers read them, and
those no filter matches are dropped before batching.

The syntax is EventBridge's, as Lambda documents it: a pattern is a JSON object whose
fields follow the record's; a field's rules are a list (any one may match): literal
strings, numbers, booleans and null, ``prefix``, ``suffix``, ``equals-ignore-case``,
``wildcard``, ``anything-but`` (values, or a prefix, a suffix, a case-insensitive value),
``numeric`` (``=``, ``<``, ``<=``, ``>``, ``>=``, ranges), ``exists``, ``cidr``; fields
are AND'ed, ``$or`` OR's whole sub-patterns, and the filters of a mapping are OR'ed.

How a record is seen: fields are followed through arrays (a field's values are every
leaf reached), a field holding an object is not a leaf (``exists`` is false for it, as
Lambda's DynamoDB documentation warns), numbers are equal when written the same way
(300 is not 300.0), and ``numeric`` compares JSON numbers only (a DynamoDB ``N`` is a
string). An SQS record's ``body`` is parsed as JSON where a pattern's ``body`` (at its
top or in a top-level ``$or``'s alternative) is an object, and must not parse where it
is a list of rules: otherwise that ``body`` does not match, as Lambda drops the record.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wslocal.exceptions import FilterPatternError

MAX_FILTERS = 10
"""Lambda's hard limit per mapping (5 by default; 10 with a quota increase)."""
MAX_PATTERN_CHARS = 4096
"""``Filter.Pattern``'s longest value in Lambda's API."""
SQS_DATA_KEY = "body"
STREAM_DATA_KEY = "dynamodb"

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_LOWER_BOUNDS = (">", ">=")
_UPPER_BOUNDS = ("<", "<=")

Test = Callable[[Any], bool]


@dataclass(frozen=True)
class Number:
    """A JSON number as written (Lambda compares exact numbers by their text) and its
    value (for ``numeric``)."""

    text: str
    value: float


def _number_of(value: Any) -> Number | None:
    if isinstance(value, Number):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Number(json.dumps(value), float(value))
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> Any:
    """JSON with its numbers kept as written; NaN and Infinity refused, as JSON does."""
    return json.loads(
        text,
        parse_int=lambda raw: Number(raw, float(raw)),
        parse_float=lambda raw: Number(raw, float(raw)),
        parse_constant=_refuse_constant,
    )


@dataclass(frozen=True)
class _Rules:
    """The rules of one field: any may match."""

    tests: tuple[Test, ...]
    if_absent: bool
    """An ``exists: false`` is among them: a field with no value matches."""
    if_present: bool
    """An ``exists: true`` is among them: any value matches."""

    def matches(self, leaves: Sequence[Any]) -> bool:
        if not leaves:
            return self.if_absent
        return self.if_present or any(test(leaf) for leaf in leaves for test in self.tests)

    def matches_field(self, record: Mapping[str, Any], name: str) -> bool:
        return self.matches(_leaves(record[name]) if name in record else ())


@dataclass(frozen=True)
class _Body:
    """The rules of an SQS record's ``body``: an object of fields takes the body parsed
    (an object or array), a list of rules the body as a plain string; a body of the
    other kind does not match, as Lambda drops it."""

    rules: _Node | _Rules

    def matches_field(self, record: Mapping[str, Any], name: str) -> bool:
        body = record.get(name)
        if isinstance(self.rules, _Node):
            return isinstance(body, dict | list) and self.rules.matches(body)
        return not isinstance(body, dict | list) and self.rules.matches_field(record, name)


@dataclass(frozen=True)
class _Node:
    """An object of a pattern: each field must match, and one of each ``$or``'s
    alternatives."""

    fields: tuple[tuple[str, _Node | _Rules | _Body], ...]
    alternatives: tuple[tuple[_Node, ...], ...] = ()

    def matches(self, value: Any) -> bool:
        """Matched against each object ``value`` holds (itself, or an array's)."""
        return any(self._matches_object(candidate) for candidate in _objects(value))

    def matches_field(self, record: Mapping[str, Any], name: str) -> bool:
        return self.matches(record.get(name))

    def _matches_object(self, record: Mapping[str, Any]) -> bool:
        if not all(sub.matches_field(record, name) for name, sub in self.fields):
            return False
        return all(
            any(alternative._matches_object(record) for alternative in alternatives)
            for alternatives in self.alternatives
        )


def _objects(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        found: list[Mapping[str, Any]] = [
            item for item in _flattened(value) if isinstance(item, Mapping)
        ]
        return found or [{}]
    return [{}]


def _flattened(values: list[Any]) -> list[Any]:
    """An array's elements, nested arrays' included, in order (a loop: a body may nest
    arrays deeper than Python's recursion limit)."""
    flat: list[Any] = []
    stack = [iter(values)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def _leaves(value: Any) -> list[Any]:
    """The values of a field a rule is matched against: none for an object."""
    values = _flattened(value) if isinstance(value, list) else [value]
    return [item for item in values if not isinstance(item, Mapping)]


@dataclass(frozen=True)
class EventFilter:
    """A mapping's filters: a record goes to the function when any one matches."""

    patterns: tuple[_Node, ...]
    reads_body: bool = False
    """A pattern has rules for an SQS ``body``: it is parsed, once per record."""

    def matches(self, record: Mapping[str, Any]) -> bool:
        if not self.patterns:
            return True
        if self.reads_body:
            body = json_body(record.get(SQS_DATA_KEY))
            if body is not None:
                record = {**record, SQS_DATA_KEY: body}
        return any(pattern.matches(record) for pattern in self.patterns)


def json_body(body: Any) -> Any:
    """An SQS body as a filter sees it: the object or array it parses to; None when it
    is not JSON (or is a lone string, number, true, false or null: a plain string)."""
    if not isinstance(body, str):
        return None
    try:
        parsed = parse_json(body)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict | list) else None


def compile_filters(patterns: Sequence[str], data_key: str) -> EventFilter:
    """The mapping's ``FilterCriteria.Filters[].Pattern`` strings, compiled; ``data_key``
    is where the source puts its data (``body`` for SQS, ``dynamodb`` for streams).
    Raises FilterPatternError saying which filter and what is wrong."""
    if len(patterns) > MAX_FILTERS:
        raise FilterPatternError(
            f"{len(patterns)} filters: Lambda allows {MAX_FILTERS} at most (5 by default)"
        )
    compiled = []
    for index, text in enumerate(patterns):
        try:
            compiled.append(_compile_pattern(text, data_key))
        except FilterPatternError as exc:
            raise FilterPatternError(f"Filters[{index}].Pattern: {exc}") from None
    return EventFilter(tuple(compiled), reads_body=any(map(_reads_body, compiled)))


def _reads_body(node: _Node) -> bool:
    return any(isinstance(sub, _Body) for _, sub in node.fields) or any(
        _reads_body(alternative)
        for alternatives in node.alternatives
        for alternative in alternatives
    )


def _compile_pattern(text: Any, data_key: str) -> _Node:
    if not isinstance(text, str):
        raise FilterPatternError(f"must be a string of JSON, not {type(text).__name__}")
    if len(text) > MAX_PATTERN_CHARS:
        raise FilterPatternError(f"is {len(text)} characters; Lambda allows {MAX_PATTERN_CHARS}")
    try:
        document = parse_json(text)
    except (ValueError, RecursionError) as exc:
        raise FilterPatternError(f"is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise FilterPatternError("must be a JSON object")
    return _node(document, "", data_key)


def _node(document: Mapping[str, Any], path: str, data_key: str | None = None) -> _Node:
    """``data_key``: the field, at this level, that holds the source's data (an SQS
    ``body``, a stream's ``dynamodb``); None below the top."""
    fields: list[tuple[str, _Node | _Rules | _Body]] = []
    alternatives: list[tuple[_Node, ...]] = []
    for name, value in document.items():
        where = f"{path}.{name}" if path else name
        sub: _Node | _Rules
        if name == "$or":
            alternatives.append(_alternatives(value, where, data_key))
            continue
        if name == data_key == STREAM_DATA_KEY and not isinstance(value, dict):
            raise FilterPatternError(f"the {data_key!r} rules must be an object (its fields)")
        if isinstance(value, dict):
            sub = _node(value, where)
        elif isinstance(value, list):
            sub = _rules(value, where)
        else:
            raise FilterPatternError(
                f"{where}: must be a list of rules or an object of fields, not {_shown(value)}"
            )
        fields.append((name, _Body(sub) if name == data_key == SQS_DATA_KEY else sub))
    return _Node(tuple(fields), tuple(alternatives))


def _alternatives(value: Any, where: str, data_key: str | None) -> tuple[_Node, ...]:
    """A ``$or``'s patterns, each matched against the object the ``$or`` is in."""
    if not isinstance(value, list) or len(value) < 2:
        raise FilterPatternError(f"{where}: must be a list of two or more patterns")
    if not all(isinstance(item, dict) and item for item in value):
        raise FilterPatternError(f"{where}: each alternative must be a non-empty object")
    return tuple(_node(item, where, data_key) for item in value)


def _rules(values: list[Any], where: str) -> _Rules:
    tests: list[Test] = []
    if_absent = if_present = False
    for value in values:
        if isinstance(value, dict) and set(value) == {"exists"}:
            if not isinstance(value["exists"], bool):
                raise FilterPatternError(f"{where}: exists must be true or false")
            if_present = if_present or value["exists"]
            if_absent = if_absent or not value["exists"]
        else:
            tests.append(_rule(value, where))
    return _Rules(tuple(tests), if_absent, if_present)


def _rule(value: Any, where: str) -> Test:
    if not isinstance(value, dict):
        if isinstance(value, list):
            raise FilterPatternError(f"{where}: a rule cannot be a list")
        return _equals(value)
    if len(value) != 1:
        raise FilterPatternError(f"{where}: a rule object has one operator, not {_shown(value)}")
    [(name, argument)] = value.items()
    if name == "numeric":
        return _numeric(argument, where)
    if name == "anything-but":
        return _anything_but(argument, where)
    if name == "cidr":
        return _cidr(argument, where)
    if name in _STRING_TESTS:
        return _string_test(name, argument, where)
    raise FilterPatternError(
        f"{where}: unknown operator {name!r} (Lambda's are anything-but, cidr, "
        "equals-ignore-case, exists, numeric, prefix, suffix, wildcard)"
    )


def _equals(expected: Any) -> Test:
    if isinstance(expected, Number):
        return lambda leaf: (
            (number := _number_of(leaf)) is not None and number.text == expected.text
        )
    if isinstance(expected, str):
        return lambda leaf: isinstance(leaf, str) and leaf == expected
    return lambda leaf: leaf is expected  # true, false, null


def _text(argument: Any, name: str, where: str) -> str:
    if not isinstance(argument, str):
        raise FilterPatternError(f"{where}: {name} takes a string, not {_shown(argument)}")
    return argument


def _affix(name: str, ends_with: Callable[[str, str], bool]) -> Callable[[Any, str], Test]:
    """``prefix`` or ``suffix``: a string, or ``{"equals-ignore-case": string}``."""

    def build(argument: Any, where: str) -> Test:
        if isinstance(argument, dict) and set(argument) == {"equals-ignore-case"}:
            folded = _text(argument["equals-ignore-case"], name, where).casefold()
            return lambda leaf: isinstance(leaf, str) and ends_with(leaf.casefold(), folded)
        exact = _text(argument, name, where)
        return lambda leaf: isinstance(leaf, str) and ends_with(leaf, exact)

    return build


def _ignoring_case(argument: Any, where: str) -> Test:
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise FilterPatternError(f"{where}: equals-ignore-case needs a value")
    folded = {_text(value, "equals-ignore-case", where).casefold() for value in values}
    return lambda leaf: isinstance(leaf, str) and leaf.casefold() in folded


def _wildcard(argument: Any, where: str) -> Test:
    values = argument if isinstance(argument, list) else [argument]
    expressions = [_wildcard_expression(_text(v, "wildcard", where), where) for v in values]
    if not expressions:
        raise FilterPatternError(f"{where}: wildcard needs a value")
    return lambda leaf: isinstance(leaf, str) and any(e.fullmatch(leaf) for e in expressions)


def _wildcard_expression(text: str, where: str) -> re.Pattern[str]:
    """``*`` is any run of characters; ``\\*`` and ``\\\\`` are a star and a backslash."""
    if "**" in text:
        raise FilterPatternError(f"{where}: wildcard {text!r} has consecutive *")
    parts, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise FilterPatternError(f"{where}: wildcard {text!r}: \\ escapes * or \\ only")
            parts.append(re.escape(following))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


_STRING_TESTS: dict[str, Callable[[Any, str], Test]] = {
    "prefix": _affix("prefix", str.startswith),
    "suffix": _affix("suffix", str.endswith),
    "equals-ignore-case": _ignoring_case,
    "wildcard": _wildcard,
}


def _string_test(name: str, argument: Any, where: str) -> Test:
    return _STRING_TESTS[name](argument, where)


def _numeric(argument: Any, where: str) -> Test:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise FilterPatternError(
            f"{where}: numeric takes [operator, number] or a range of two, not {_shown(argument)}"
        )
    bounds = []
    for index in range(0, len(argument), 2):
        name, bound = argument[index], argument[index + 1]
        if not isinstance(name, str) or name not in _COMPARISONS:
            raise FilterPatternError(
                f"{where}: numeric operator {_shown(name)} is none of {', '.join(_COMPARISONS)}"
            )
        if not isinstance(bound, Number):
            raise FilterPatternError(f"{where}: numeric {name} needs a number, not {_shown(bound)}")
        bounds.append((name, bound.value))
    names = {name for name, _ in bounds}
    if len(bounds) == 2 and not (names & set(_LOWER_BOUNDS) and names & set(_UPPER_BOUNDS)):
        raise FilterPatternError(
            f"{where}: a numeric range has one lower (> or >=) and one upper (< or <=) bound"
        )
    checks = [(_COMPARISONS[name], bound) for name, bound in bounds]

    def within(leaf: Any) -> bool:
        number = _number_of(leaf)
        return number is not None and all(check(number.value, bound) for check, bound in checks)

    return within


def _anything_but(argument: Any, where: str) -> Test:
    if isinstance(argument, dict):
        if len(argument) != 1 or next(iter(argument)) not in _STRING_TESTS:
            raise FilterPatternError(
                f"{where}: anything-but takes values, or one of prefix, suffix, "
                f"equals-ignore-case, wildcard; not {_shown(argument)}"
            )
        [(name, inner)] = argument.items()
        excluded = _string_test(name, inner, where)
        return lambda leaf: isinstance(leaf, str) and not excluded(leaf)
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise FilterPatternError(f"{where}: anything-but needs at least one value")
    if not (
        all(isinstance(value, str) for value in values)
        or all(isinstance(value, Number) for value in values)
    ):
        raise FilterPatternError(
            f"{where}: anything-but takes strings or numbers (not both), not {_shown(argument)}"
        )
    tests = [_equals(value) for value in values]
    return lambda leaf: not any(test(leaf) for test in tests)


def _cidr(argument: Any, where: str) -> Test:
    text = _text(argument, "cidr", where)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise FilterPatternError(f"{where}: cidr {text!r} is not an IP network") from None

    def inside(leaf: Any) -> bool:
        if not isinstance(leaf, str):
            return False
        try:
            return ipaddress.ip_address(leaf) in network
        except ValueError:
            return False

    return inside


def _shown(value: Any) -> str:
    if isinstance(value, Number):
        return value.text
    try:
        return json.dumps(value, default=lambda item: item.text)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]
