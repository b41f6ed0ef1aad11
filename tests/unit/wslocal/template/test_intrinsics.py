import pytest

from wslocal.exceptions import TemplateError
from wslocal.template.intrinsics import NO_VALUE, Resolver, load_yaml

REFS = {"AWS::Region": "eu-west-1", "Name": "chat", "Fn": "fn-name"}
ATTRS = {("Fn", "Arn"): "arn:aws:lambda:eu-west-1:1:function:fn-name"}


def resolve(text: str):
    return Resolver(
        REFS, ATTRS, {"IsSame": {"Fn::Equals": ["a", "a"]}}, {"M": {"k": {"v": 3}}}
    ).resolve(load_yaml(text)["x"])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("x: !Ref Name", "chat"),
        ("x: !Sub '${Name}-${AWS::Region}'", "chat-eu-west-1"),
        (
            "x: !Sub '${Fn.Arn}/invocations'",
            "arn:aws:lambda:eu-west-1:1:function:fn-name/invocations",
        ),
        ("x: !Sub ['${A}-${Name}', {A: !Ref AWS::Region}]", "eu-west-1-chat"),
        ("x: !Sub 'literal ${!NotAVar}'", "literal ${NotAVar}"),
        ("x: !GetAtt Fn.Arn", "arn:aws:lambda:eu-west-1:1:function:fn-name"),
        ("x: {'Fn::GetAtt': [Fn, Arn]}", "arn:aws:lambda:eu-west-1:1:function:fn-name"),
        ("x: !Join ['-', [a, !Ref Name]]", "a-chat"),
        ("x: !Select [1, [a, b]]", "b"),
        ("x: !Split [',', 'a,b']", ["a", "b"]),
        ("x: !If [IsSame, one, two]", "one"),
        ("x: !FindInMap [M, k, v]", 3),
        ("x: [a, !Ref AWS::NoValue]", ["a"]),
    ],
)
def test_intrinsics_resolve_to_local_values(text, value):
    assert resolve(text) == value


def test_no_value_drops_a_property():
    assert resolve("x: {a: 1, b: !Ref AWS::NoValue}") == {"a": 1}
    assert Resolver({}, {}).resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_an_unknown_ref_names_where_it_stands():
    with pytest.raises(TemplateError, match="MyFunction: Ref to unknown name 'Missing'"):
        Resolver({}, {}).resolve({"Ref": "Missing"}, "MyFunction")


def test_an_unsupported_function_is_an_error():
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        resolve("x: !ImportValue other-stack-output")
