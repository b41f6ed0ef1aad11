"""A mapping template compiled once by airspeed (a maintained Python Velocity engine)
and rendered per request, with airspeed's errors turned into ``MappingTemplateError``
(what went wrong and where).

One adaptation to Velocity as API Gateway runs it: Velocity's string literals keep their
backslashes (``"\\'"`` is three characters), where airspeed reads ``\\\\`` as one. The
documented ``$util.escapeJavaScript(x).replaceAll("\\\\'","'")`` depends on it, so the
compiled tree's literals are given their source text back.
"""

from __future__ import annotations

from typing import Any

import airspeed

from wslocal.apigateway.mapping.java import java
from wslocal.apigateway.mapping.overrides import Rendering, rendering
from wslocal.apigateway.mapping.variables import InputVariable, Namespace, namespace
from wslocal.exceptions import MappingTemplateError

__all__ = ["MappingTemplate"]


class MappingTemplate:
    """One template's text, parsed once: a route keeps it and renders it per request.

    Raises ``MappingTemplateError`` (with line and column) when the text does not parse.
    """

    def __init__(self, text: str):
        self.text = text
        self._template = airspeed.Template(text)
        try:
            self._template.ensure_compiled()
        except airspeed.TemplateSyntaxError as exc:
            raise MappingTemplateError(
                _reason(str(exc)), line=exc.line, column=exc.column
            ) from None
        except RecursionError:
            raise MappingTemplateError("nested too deeply to parse") from None
        _keep_literal_backslashes(self._template.root_element)

    def render(
        self,
        input_variable: InputVariable,
        context: Any,
        stage_variables: Any,
    ) -> Rendering:
        """The template's output for one request, and the overrides it set;
        ``MappingTemplateError`` when a directive or call fails (its reason, and the line
        and column it starts at)."""
        names: Namespace = namespace(input_variable, context, stage_variables)
        try:
            return rendering(str(self._template.merge(_TemplateScope(names))), names["context"])
        except airspeed.TemplateExecutionError as exc:
            line, column = _position(self.text, exc.start)
            cause = exc.__cause__
            reason = cause.reason if isinstance(cause, MappingTemplateError) else str(cause)
            error_type = type(cause) if isinstance(cause, MappingTemplateError) else None
            text = f"{reason} (in {exc.element.my_text()!r})"
            if error_type is not None:
                raise error_type(text, line=line, column=column) from None
            raise MappingTemplateError(text, line=line, column=column) from None
        except airspeed.TemplateError as exc:  # #parse/#include: no templates to load
            raise MappingTemplateError(str(exc)) from None
        except RecursionError:
            raise MappingTemplateError("recursion too deep (a macro calling itself?)") from None


class _TemplateScope(airspeed.LocalNamespace):  # type: ignore[misc]
    """The template's own variables: what ``#set`` stores becomes a Java-like value, so
    ``#set($s = "a" + $b)`` then ``$s.toUpperCase()``, or ``#set($m = {})`` then
    ``$m.put(...)``, behave as on API Gateway. (airspeed takes a namespace of this class
    as the template's scope, as it does for a ``#parse``d template.)"""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, java(value))


def _reason(message: str) -> str:
    """airspeed's syntax message without its own "line N, column M: " prefix."""
    head, separator, rest = message.partition(": ")
    return rest if separator and head.startswith("line ") else message


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _keep_literal_backslashes(element: Any) -> None:
    """Velocity string literals as Velocity reads them: no backslash escapes."""
    stack = [element]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, airspeed.StringLiteral) and node.my_text()[1:-1] != node.value:
            node.value = node.my_text()[1:-1]
            if isinstance(node, airspeed.InterpolatedStringLiteral):
                node.block = airspeed.Block(node.filename, node.value, 0)
        for value in vars(node).values():
            if type(value) is list:
                stack.extend(item for item in value if _is_element(item))
            elif type(value) is dict:  # a dictionary literal: elements as keys and values
                stack.extend(x for pair in value.items() for x in pair if _is_element(x))
            elif _is_element(value):
                stack.append(value)


def _is_element(value: Any) -> bool:
    """Whether ``value`` is a node of airspeed's tree (its ABC's isinstance is slow)."""
    return airspeed._Element in type(value).__mro__
