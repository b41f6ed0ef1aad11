"""CloudFormation YAML tags and intrinsic functions, resolved to local values.

``load_yaml`` turns ``!Ref``/``!Sub``/... into their long form; ``Resolver`` evaluates
``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``,
``Fn::If`` (with the template's Conditions), ``Fn::Equals``/``And``/``Or``/``Not`` and
``Fn::FindInMap`` against the values the local stage gives each resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from wslocal.exceptions import TemplateError
from wslocal.template.shapes import UNEXPECTED_SHAPES

NO_VALUE = object()
"""What ``Ref: AWS::NoValue`` resolves to: the property is dropped."""

_TAGS = (
    "Ref", "Condition", "Base64", "GetAZs", "ImportValue", "Sub", "Join", "Select",
    "Split", "If", "Equals", "Not", "And", "Or", "FindInMap", "GetAtt", "Cidr",
)  # fmt: skip
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class _TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A SafeLoader that knows CloudFormation's short-form tags; libyaml's where PyYAML
    has it (a sixth of the CPU: the chat's template reads in 15 ms, not 95, at every
    start and edit)."""


def _construct(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], Any]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if tag == "Ref":
            return {"Ref": value}
        if tag == "Condition":
            return {"Condition": value}
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{tag}": value}

    return construct


for _tag in _TAGS:
    _TemplateLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_yaml(text: str) -> Any:
    """Parse a CloudFormation/SAM template (YAML or JSON)."""
    return yaml.load(text, Loader=_TemplateLoader)


class Resolver:
    """Evaluates intrinsic functions with the stage's local values.

    ``refs`` maps a parameter, pseudo parameter or logical id to what ``Ref`` gives;
    ``attributes`` maps ``(logical id, attribute)`` to what ``Fn::GetAtt`` gives.
    """

    def __init__(
        self,
        refs: Mapping[str, Any],
        attributes: Mapping[tuple[str, str], Any],
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
    ) -> None:
        self._refs = refs
        self._attributes = attributes
        self._conditions = conditions or {}
        self._mappings = mappings or {}

    def resolve(self, value: Any, where: str = "") -> Any:
        """Resolve every intrinsic in ``value``; ``where`` names the place for errors."""
        if isinstance(value, list):
            items = [self.resolve(item, where) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument, where)
            if key.startswith("Fn::") or key == "Condition":
                return self._function(key, argument, where)
        resolved = {key: self.resolve(item, where) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def condition(self, name: str, where: str = "") -> bool:
        if not isinstance(name, str) or name not in self._conditions:
            raise TemplateError(f"unknown condition {name!r}", where or None)
        return bool(self.resolve(self._conditions[name], where))

    def _ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"Ref takes a name, not {name!r}", where or None)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name not in self._refs:
            raise TemplateError(f"Ref to unknown name {name!r}", where or None)
        return self._refs[name]

    def _get_att(self, argument: Any, where: str) -> Any:
        argument = self.resolve(argument, where)
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = argument
        if (logical_id, attribute) not in self._attributes:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} has no local value", where)
        return self._attributes[(logical_id, attribute)]

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1], where)
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self._refs:
                return str(self._get_att(name.split(".", 1), where))
            return str(self._ref(name, where))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _function(self, key: str, argument: Any, where: str) -> Any:
        """One intrinsic; a malformed argument (``Fn::If`` without three items, a
        ``Fn::Sub`` of a number, ...) is a TemplateError naming the function."""
        try:
            return self._evaluate(key, argument, where)
        except UNEXPECTED_SHAPES as exc:
            raise TemplateError(
                f"{key} has a malformed argument {argument!r:.60} ({exc})", where or None
            ) from None

    def _evaluate(self, key: str, argument: Any, where: str) -> Any:
        if key == "Fn::GetAtt":
            return self._get_att(argument, where)
        if key == "Fn::Sub":
            return self._sub(argument, where)
        if key == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(str(item) for item in self.resolve(items, where))
        if key == "Fn::Select":
            index, items = self.resolve(argument, where)
            return items[int(index)]
        if key == "Fn::Split":
            delimiter, text = self.resolve(argument, where)
            return str(text).split(delimiter)
        if key == "Fn::If":
            name, if_true, if_false = argument
            return self.resolve(if_true if self.condition(name, where) else if_false, where)
        if key == "Condition":
            return self.condition(argument, where)
        if key == "Fn::Equals":
            left, right = self.resolve(argument, where)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(argument[0], where)
        if key == "Fn::And":
            return all(self.resolve(item, where) for item in argument)
        if key == "Fn::Or":
            return any(self.resolve(item, where) for item in argument)
        if key == "Fn::FindInMap":
            name, first, second = self.resolve(argument, where)
            try:
                return self._mappings[name][first][second]
            except KeyError:
                raise TemplateError(
                    f"Fn::FindInMap {name}/{first}/{second} not found", where
                ) from None
        raise TemplateError(f"{key} is not supported by the local stage", where or None)
