"""Any template a user can write, however wrong, gets a WslocalError that names where it
is wrong, never a traceback: templates nobody here wrote are mutated at random places
(a value replaced by another type, a key removed) and read (hypothesis)."""

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.paths import FIXTURES, ROOT
from wslocal.exceptions import WslocalError
from wslocal.template import StageModel, build_stage_model, read_template

APPS = [
    (ROOT / "template.yaml", ROOT),
    (FIXTURES / "mixed_app" / "template.yaml", FIXTURES / "mixed_app"),
    (FIXTURES / "echo_app" / "template.yaml", FIXTURES / "echo_app"),
    (FIXTURES / "auth_app" / "template.yaml", FIXTURES / "auth_app"),
    (FIXTURES / "storage_first_app" / "template.yaml", FIXTURES / "storage_first_app"),
    (FIXTURES / "rest_resources_app" / "template.yaml", FIXTURES / "rest_resources_app"),
    (ROOT / "examples" / "seed_chat" / "template.yaml", ROOT / "examples" / "seed_chat"),
]
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "x", "!Ref", "${Nope}", "src/", "python3.12", "GET /a/{b}"]),
    st.lists(st.sampled_from(["", "x", 1]), max_size=2),
    st.dictionaries(st.sampled_from(["Ref", "Fn::GetAtt", "Type", "x"]), st.just("x"), max_size=1),
)


def places(node, path=()):
    """Every (path, value) under the template's Resources and Globals."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from places(value, (*path, index))


def mutated(document, path, value, remove):
    changed = copy.deepcopy(document)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    if remove and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


@pytest.mark.parametrize(("template", "base"), APPS, ids=lambda p: Path(p).parent.name or "chat")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_template_reads_or_says_what_is_wrong(template, base, data):
    document = read_template(template)
    candidates = [
        path for path, _ in places(document)
        if len(path) >= 2 and path[0] in ("Resources", "Globals")
    ]  # fmt: skip
    path = data.draw(st.sampled_from(candidates))
    value = data.draw(ODD_VALUES)
    remove = data.draw(st.booleans())
    try:
        model = build_stage_model(mutated(document, path, value, remove), base)
    except WslocalError as exc:
        # Named: a resource of the template or Globals, or the translator's own words
        # (what sam validate says).
        said = str(exc)
        names = [*document["Resources"], "Globals", "translator"]
        assert any(name in said for name in names), said
    else:
        assert isinstance(model, StageModel)


def test_a_function_whose_events_is_a_string_is_named_with_the_property():
    document = read_template(ROOT / "template.yaml")
    document["Resources"]["PresenceFunction"]["Properties"]["Events"] = "ConnectionsStream"
    with pytest.raises(WslocalError, match=r"PresenceFunction\.Events: is not a map of events"):
        build_stage_model(document, ROOT)


def test_a_malformed_intrinsic_names_the_function_and_the_resource():
    document = read_template(ROOT / "template.yaml")
    properties = document["Resources"]["ConnectFunction"]["Properties"]
    properties["Timeout"] = {"Fn::If": ["OnlyTwo", 3]}
    with pytest.raises(WslocalError, match=r"ConnectFunction: Fn::If has a malformed argument"):
        build_stage_model(document, ROOT)
