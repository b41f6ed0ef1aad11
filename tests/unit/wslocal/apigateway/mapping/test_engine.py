"""The engine: Velocity as API Gateway runs it, and nothing but MappingTemplateError for
a template that does not parse or render."""

from __future__ import annotations

import string

import pytest
from hypothesis import given as generated
from hypothesis import settings
from hypothesis import strategies as st

from wslocal.apigateway.mapping import (
    MappingInput,
    MappingTemplate,
    MappingTemplateError,
    render,
    render_compiled,
)

NOTHING = MappingInput(
    body='{"a": {"b": [1, "x", true, null]}, "s": "it\'s"}', params={}, context={}
)

VELOCITY_PIECES = [
    "$", "#", "(", ")", "{", "}", "[", "]", "'", '"', "\\", ".", ",", "=", "!", "|", " ", "\n",
    "#set", "#if", "#elseif", "#else", "#end", "#foreach", "#macro", "#define", "#stop",
    "#parse", "#include", "#evaluate", "##", "#*", "*#", " in ", "..", "==", "&&", "||",
    "$input", "$input.json('$.a')", "$input.path('$.a.b')", "$input.params()", "$util",
    "$util.escapeJavaScript(", "$util.parseJson(", "$util.base64Decode(", "$context",
    "$stageVariables", "$foreach.hasNext", ".size()", ".get(", ".keySet()", "'$.a'", "0", "-1",
    "true", "null", "$x", "$!x", "${x}",
]  # fmt: skip
templates = st.lists(
    st.sampled_from(VELOCITY_PIECES) | st.text(string.printable, max_size=3), max_size=30
).map("".join)


@settings(max_examples=300, deadline=None)
@generated(templates)
def test_random_template_text_renders_or_is_a_mapping_template_error(text: str) -> None:
    try:
        out = render(text, NOTHING)
    except MappingTemplateError:
        return
    assert isinstance(out, str)


def test_string_literals_keep_their_backslashes_as_in_velocity() -> None:
    # Velocity reads "a\\b" as four characters (no escapes in string literals).
    assert render('#set($s = "a\\\\b")$s.length()', NOTHING) == "4"


def test_a_compiled_template_renders_many_inputs() -> None:
    template = MappingTemplate("$input.path('$.n')")
    outs = [render_compiled(template, MappingInput(f'{{"n": {n}}}', {}, {})) for n in (1, 2)]
    assert outs == ["1", "2"]


def test_a_rendering_does_not_leak_into_the_next() -> None:
    template = MappingTemplate("#if($seen)again#end#set($seen = true)")
    assert [render_compiled(template, NOTHING) for _ in range(2)] == ["", ""]


def test_an_undefined_macro_is_an_error() -> None:
    with pytest.raises(MappingTemplateError, match="no such macro"):
        render("#nosuch()", NOTHING)


def test_a_set_string_has_java_string_methods() -> None:
    assert render('#set($s = "a" + "b")$s.toUpperCase() $s.length()', NOTHING) == "AB 2"


def test_a_set_boolean_renders_as_java_does() -> None:
    assert render("#set($b = true)$b", NOTHING) == "true"


def test_a_set_map_renders_and_grows_as_a_java_map() -> None:
    out = render('#set($m = {"k": "v"})#set($m.list = [1, "x"])$m', NOTHING)
    assert out == '{k=v, list=[1,"x"]}'


def test_list_add_renders_true_as_javas_list_add_returns_it() -> None:
    # The well-known VTL gotcha: $list.add(x) prints "true"; #set($_ = $list.add(x)) hides it.
    assert render("#set($l = [])$l.add(1)#set($_ = $l.add(2))$l", NOTHING) == "true[1,2]"


def test_a_variable_set_before_foreach_keeps_the_loops_last_value() -> None:
    # airspeed scopes it to the loop, where Velocity keeps it: a known difference
    # (docs/local-stage.md, "Mapping templates"); set it before the loop.
    template = '#set($q = "")#foreach($i in [1..2])#set($q = "in$i")#end$q'
    assert render(template, NOTHING) == "in2"
