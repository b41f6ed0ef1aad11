"""``$input``, ``$util``, ``$context`` and ``$stageVariables``: what API Gateway puts in
a mapping template's namespace, with the behaviour its documentation gives each one
(docs: "Variables for data transformations for API Gateway", "$util variables")."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from wslocal.apigateway.mapping.java import (
    NULL,
    JavaBoolean,
    JavaList,
    JavaMap,
    JavaNull,
    JavaString,
    java,
    plain,
)
from wslocal.apigateway.mapping.jsonpath import read_path
from wslocal.apigateway.mapping.overrides import with_override_maps
from wslocal.exceptions import MappingBodyNotJsonError, MappingTemplateError

PARAMETER_SOURCES = ("path", "querystring", "header")  # $input.params(x) looks in this order


class Namespace(dict[str, Any]):
    """The template's top-level names; an unknown one reads as null (renders nothing),
    as in API Gateway. Macros (``#name``) stay strict, so an unknown macro is an error."""

    def __missing__(self, key: str) -> Any:
        if key.startswith("#"):
            raise KeyError(key)
        return NULL


class InputVariable:
    """``$input``: the body (a request's, or on the way back the integration's) and the
    method request's parameters. The body is parsed once, on first use, and
    ``$input.path`` hands out its live objects: a ``#set($b.x = 1)`` on them shows in a
    later ``$input.json('$')``, as it does on API Gateway."""

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]]):
        self._body = body
        self._params = JavaMap(
            (source, java(dict(params.get(source, {})))) for source in PARAMETER_SOURCES
        )
        self._document: Any = None
        self._parsed = False

    @property
    def body(self) -> JavaString:
        """The raw payload; an empty one reads ``{}``, as API Gateway gives it."""
        return JavaString(self._body if self._body else "{}")

    def json(self, path: str = "$") -> Any:
        """The JSONPath's value as JSON text: a string comes back quoted
        (``"message": $input.json('$.message')`` needs no quotes of its own), and a JSON
        null or a missing path is the text ``null`` (the method returns a serialized value,
        never a null reference), so such a template still sends valid JSON."""
        value = read_path(self._parsed_body(), str(path))
        if isinstance(value, JavaNull):
            return JavaString("null")
        return JavaString(json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False))

    def path(self, path: str = "$") -> Any:
        """The JSONPath's value as an object, for ``#foreach``, ``.size()``, ``#set``."""
        return read_path(self._parsed_body(), str(path))

    def params(self, name: str | None = None) -> Any:
        """Every parameter (``{path={...}, querystring={...}, header={...}}``), or one by
        name: path first, then query string, then header; empty text when none has it."""
        if name is None:
            return self._params
        key = str(name)
        for source in PARAMETER_SOURCES:
            found = dict.get(self._params[source], key)
            if found is not None:
                return found
        for header, value in self._params["header"].items():
            if header.lower() == key.lower():
                return value
        return JavaString("")

    def __getattr__(self, name: str) -> JavaNull:
        if name.startswith("_"):  # Python's own protocols (copy, pickle) are not names
            raise AttributeError(name)
        return NULL

    def _parsed_body(self) -> Any:
        if not self._parsed:
            text = self._body.strip()
            try:
                self._document = java(json.loads(text) if text else {})
            except ValueError as exc:
                raise MappingBodyNotJsonError(
                    f"Could not parse request body into json: {exc}"
                ) from None
            self._parsed = True
        return self._document


class UtilVariable:
    """``$util``: the six functions API Gateway documents. Any other name is null, as on
    API Gateway ("a non-existent function is referenced, no error is shown")."""

    def escapeJavaScript(self, value: Any) -> Any:
        """Java's StringEscapeUtils.escapeJavaScript: quotes (single ones too, which JSON
        does not allow: the documented quirk), backslash, slash, control characters and
        everything past ASCII as ``\\uXXXX``."""
        if value is None or isinstance(value, JavaNull):
            return NULL
        text = str(value) if not isinstance(value, bool) else str(JavaBoolean(value))
        escaped = text.translate(_ASCII_ESCAPES)
        if not escaped.isascii():
            escaped = "".join(_escape_past_ascii(char) for char in escaped)
        return JavaString(escaped)

    def parseJson(self, text: Any) -> Any:
        """Stringified JSON as an object the template can walk."""
        try:
            return java(json.loads(str(text)))
        except ValueError as exc:
            raise MappingTemplateError(f"$util.parseJson: not JSON: {exc}") from None

    def urlEncode(self, text: Any) -> JavaString:
        """application/x-www-form-urlencoded, as Java's URLEncoder writes it."""
        return JavaString(quote_plus(str(text), safe="*").replace("~", "%7E"))

    def urlDecode(self, text: Any) -> JavaString:
        return JavaString(unquote_plus(str(text)))

    def base64Encode(self, text: Any) -> JavaString:
        return JavaString(base64.b64encode(str(text).encode()).decode("ascii"))

    def base64Decode(self, text: Any) -> JavaString:
        try:
            decoded = base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MappingTemplateError(f"$util.base64Decode: not base64: {exc}") from None
        return JavaString(decoded.decode("utf-8", errors="replace"))

    def __getattr__(self, name: str) -> JavaNull:
        if name.startswith("_"):  # Python's own protocols (copy, pickle) are not names
            raise AttributeError(name)
        return NULL


_ASCII_ESCAPES = {
    **{code: f"\\u{code:04X}" for code in range(0x20)},
    **{ord(char): "\\" + char for char in "'\"\\/"},
    ord("\b"): "\\b", ord("\n"): "\\n", ord("\t"): "\\t", ord("\f"): "\\f", ord("\r"): "\\r",
}  # fmt: skip


def _escape_past_ascii(char: str) -> str:
    code = ord(char)
    if code <= 0x7F:
        return char
    if code > 0xFFFF:  # Java strings are UTF-16: a pair of escaped surrogates
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\u{code:04X}"


def context_variable(context: Mapping[str, Any]) -> JavaMap:
    """``$context``, with ``authorizer.<key>`` stringified as API Gateway does
    (``1`` reads ``"1"``, ``true`` reads ``"true"``; maps such as Cognito's ``claims`` stay
    maps), and the override maps a template may ``#set`` into."""
    values: JavaMap = java(dict(context))
    authorizer = values.get("authorizer")
    if isinstance(authorizer, JavaMap):
        for key, value in list(authorizer.items()):
            if not isinstance(value, JavaMap | JavaList | JavaNull | JavaString):
                authorizer[key] = JavaString(value)
    return with_override_maps(values)


def namespace(
    input_variable: InputVariable, context: Mapping[str, Any], stage_variables: Mapping[str, str]
) -> Namespace:
    """A fresh namespace for one rendering (a template's ``#set`` and macros write to it)."""
    return Namespace(
        input=input_variable,
        util=UtilVariable(),
        context=context_variable(context),
        stageVariables=java(dict(stage_variables)),
    )
