"""$input, $util, $context and $stageVariables, each case from AWS's documentation of
mapping templates (the URL above each test) unless it names another source."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wslocal.apigateway.mapping import (
    MappingBodyNotJsonError,
    MappingInput,
    MappingTemplateError,
    render,
)

REFERENCE = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html"
EXAMPLES = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-variable-examples.html"
WEBSOCKET = "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-mapping-template-reference.html"

PETS = {
    "pets": [
        {"id": 1, "type": "dog", "price": 249.99},
        {"id": 2, "type": "cat", "price": 124.99},
        {"id": 3, "type": "fish", "price": 0.99},
    ]
}


def given(
    body: Any = "",
    *,
    path: dict[str, str] | None = None,
    querystring: dict[str, str] | None = None,
    header: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
    stage_variables: dict[str, str] | None = None,
) -> MappingInput:
    return MappingInput(
        body=body if isinstance(body, str) else json.dumps(body),
        params={"path": path or {}, "querystring": querystring or {}, "header": header or {}},
        context=context or {},
        stage_variables=stage_variables or {},
    )


# $input.body -------------------------------------------------------------------------


def test_input_body_is_the_raw_payload_as_a_string() -> None:
    # REFERENCE: "$input.body: Returns the raw request payload as a string."
    assert render("$input.body", given('{"a" : 1}')) == '{"a" : 1}'


def test_input_body_of_an_empty_payload_reads_as_an_empty_object() -> None:
    # Source: localstack/localstack#12413 (checked against AWS): an empty body reads "{}".
    assert render("$input.body", given("")) == "{}"


# $input.json -------------------------------------------------------------------------


def test_input_json_returns_the_path_as_a_json_string() -> None:
    # REFERENCE: "$input.json('$.pets') returns a JSON string representing the pets structure"
    assert json.loads(render("$input.json('$.pets')", given(PETS))) == PETS["pets"]


def test_input_json_of_a_string_value_comes_back_quoted() -> None:
    # REFERENCE, "Example JSON mapping template using $input": "body" : $input.json('$.mykey')
    # is written without quotes of its own; a string value brings its own.
    template = '{"name" : "$input.params(\'name\')", "body" : $input.json(\'$.mykey\')}'
    out = render(template, given({"mykey": "my value"}, querystring={"name": "Bob"}))
    assert json.loads(out) == {"name": "Bob", "body": "my value"}


def test_input_json_of_the_root_passes_the_whole_body() -> None:
    # REFERENCE: { "name" : "$input.params('name')", "body" : $input.json('$') }
    template = '{"name" : "$input.params(\'name\')", "body" : $input.json(\'$\')}'
    out = render(template, given({"a": [1, 2]}, querystring={"name": "me"}))
    assert json.loads(out) == {"name": "me", "body": {"a": [1, 2]}}


def test_input_json_of_an_empty_body_is_an_empty_object() -> None:
    # The console's "Method request passthrough" template sends "body-json": {} on a GET.
    assert render("{\"body-json\" : $input.json('$')}", given("")) == '{"body-json" : {}}'


def test_input_json_of_a_missing_path_is_json_null() -> None:
    # $input.json returns a JSON serialization, not a null reference (LocalStack's
    # VelocityInput.json also serializes what the path reads): the seed's template
    # {"message": $input.json('$.message')} stays valid JSON for a frame without a message.
    out = render("{\"message\": $input.json('$.message')}", given({"action": "send"}))
    assert json.loads(out) == {"message": None}


def test_input_json_of_a_json_null_is_json_null() -> None:
    out = render("{\"message\": $input.json('$.message')}", given({"message": None}))
    assert json.loads(out) == {"message": None}


def test_input_json_on_a_body_that_is_not_json_is_the_400_error() -> None:
    with pytest.raises(MappingBodyNotJsonError, match="Could not parse request body into json"):
        render("$input.json('$')", given("not json"))


# $input.path -------------------------------------------------------------------------


def test_input_path_returns_an_object_with_a_size() -> None:
    # REFERENCE, "Example request and response using $input": POST /things/abc
    template = (
        '{"id" : "$input.params(\'id\')", "count" : "$input.path(\'$.things\').size()", '
        "\"things\" : $input.json('$.things')}"
    )
    body = {"things": {"1": {}, "2": {}, "3": {}}}
    out = render(template, given(body, path={"id": "abc"}))
    assert json.loads(out) == {"id": "abc", "count": "3", "things": {"1": {}, "2": {}, "3": {}}}


def test_input_path_of_a_list_is_usable_in_foreach() -> None:
    # REFERENCE: "$input.path('$.pets')" returns the pets array, to manipulate natively in VTL
    template = (
        "#foreach($pet in $input.path('$.pets'))$pet.type:$pet.price#if($foreach.hasNext),#end#end"
    )
    assert render(template, given(PETS)) == "dog:249.99,cat:124.99,fish:0.99"


def test_input_path_reads_array_items_by_index() -> None:
    # REFERENCE (JSONPath for Java, which the page names): a definite path with an index
    assert render("$input.path('$.pets[1].type')", given(PETS)) == "cat"


def test_input_path_with_a_wildcard_gives_the_list_of_matches() -> None:
    # JSONPath for Java (named by REFERENCE): an indefinite path returns a list
    assert render("$input.path('$.pets[*].id')", given(PETS)) == "[1,2,3]"


def test_input_path_with_a_filter_selects_matching_items() -> None:
    template = "$input.path('$.pets[?(@.price < 200)].type')"
    assert render(template, given(PETS)) == '["cat","fish"]'


def test_input_path_of_an_object_renders_as_a_java_map() -> None:
    # A Java Map's toString, as API Gateway renders $input.path('$')
    # (localstack's template_mapping.py, validated against AWS).
    assert render("$input.path('$')", given({"a": 1, "b": [{"c": 5}]})) == '{a=1, b=[{"c":5}]}'


def test_input_path_of_a_boolean_renders_as_java_does() -> None:
    assert render("$input.path('$.on')", given({"on": True})) == "true"


def test_json_numbers_and_booleans_have_javas_to_string() -> None:
    # Jayway gives Integer, Double and Boolean objects: Velocity calls their methods (an
    # unknown method would render the reference's own text)
    template = (
        "$input.path('$.n').toString() $input.path('$.x').toString() $input.path('$.on').toString()"
    )
    assert render(template, given({"n": 3, "x": 2.5, "on": True})) == "3 2.5 true"


def test_json_numbers_still_count_and_compare() -> None:
    template = "#set($m = $input.path('$.n') + 1)$m #if($input.path('$.n') > 2)big#end"
    assert render(template, given({"n": 3})) == "4 big"
    assert render("$input.json('$')", given({"n": 3, "x": 2.5})) == '{"n":3,"x":2.5}'


def test_set_on_an_input_path_object_shows_in_input_json() -> None:
    # Source: https://qiita.com/makisyu/items/649f2c1945bde57c129f: #set on $input.path('$')
    # changes what $input.json('$') then writes.
    template = (
        "#set($body = $input.path('$'))\n"
        '#set($body.url = "https://example.tld/thingy/$body.id")\n'
        "$input.json('$')"
    )
    out = render(template, given({"id": "7"}))
    assert json.loads(out) == {"id": "7", "url": "https://example.tld/thingy/7"}


def test_the_photo_album_example_transforms_the_photos() -> None:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-develop-models-mapping-examples.html
    # "Example data transformation": JSON booleans render as true/false, so the output is JSON
    photo = {
        "owner": "23456789@A12", "secret": "abc123d456", "server": "1234", "farm": 1,
        "isfriend": False, "isfamily": False,
    }  # fmt: skip
    body = {
        "photos": {
            "page": 1, "pages": "1234", "perpage": 100, "total": "123398",
            "photo": [
                {**photo, "id": "12345678901", "photographer_first_name": "Saanvi",
                 "photographer_last_name": "Sarkar", "title": "Sample photo 1", "ispublic": True},
                {**photo, "id": "23456789012", "photographer_first_name": "Richard",
                 "photographer_last_name": "Roe", "title": "Sample photo 2", "ispublic": True},
            ],
        }
    }  # fmt: skip
    template = """#set($inputRoot = $input.path('$'))
{
  "photos": [
#foreach($elem in $inputRoot.photos.photo)
    {
      "id": "$elem.id",
      "photographedBy": "$elem.photographer_first_name $elem.photographer_last_name",
      "title": "$elem.title",
      "ispublic": $elem.ispublic,
      "isfriend": $elem.isfriend,
      "isfamily": $elem.isfamily
    }#if($foreach.hasNext),#end
#end
  ]
}"""
    common = {"ispublic": True, "isfriend": False, "isfamily": False}
    assert json.loads(render(template, given(body))) == {
        "photos": [
            {"id": "12345678901", "photographedBy": "Saanvi Sarkar", "title": "Sample photo 1",
             **common},
            {"id": "23456789012", "photographedBy": "Richard Roe", "title": "Sample photo 2",
             **common},
        ]
    }  # fmt: skip


# $input.params -----------------------------------------------------------------------


def test_input_params_passes_every_parameter_through() -> None:
    # REFERENCE, "Parameter mapping template example"
    template = """#set($allParams = $input.params())
{
  "params" : {
    #foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
    "$type" : {
      #foreach($paramName in $params.keySet())
      "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
      #if($foreach.hasNext),#end
      #end
    }
    #if($foreach.hasNext),#end
    #end
  }
}"""
    out = render(
        template,
        given(path={"id": "7"}, querystring={"q": "x y"}, header={"Accept": "*/*"}),
    )
    assert json.loads(out) == {
        "params": {"path": {"id": "7"}, "querystring": {"q": "x y"}, "header": {"Accept": "*/*"}}
    }


def test_input_params_by_name_looks_in_path_then_querystring_then_header() -> None:
    # REFERENCE: "searched in that order"
    both = given(path={"x": "path"}, querystring={"x": "query"}, header={"x": "header"})
    query_and_header = given(querystring={"x": "query"}, header={"x": "header"})
    assert render("$input.params('x')", both) == "path"
    assert render("$input.params('x')", query_and_header) == "query"
    assert render("$input.params('x')", given(header={"x": "header"})) == "header"


def test_input_params_of_an_unknown_name_is_empty() -> None:
    assert render("\"$input.params('nope')\"", given()) == '""'


def test_input_params_renders_as_a_java_map() -> None:
    # api-gateway-payload-parse (npm): "$input.params().querystring" arrives as "{fields=id, ...}"
    assert (
        render("$input.params().querystring", given(querystring={"fields": "id"})) == "{fields=id}"
    )


# $util -------------------------------------------------------------------------------


def test_escape_javascript_escapes_single_quotes_which_json_does_not_allow() -> None:
    # REFERENCE, $util.escapeJavaScript(): "will turn any regular single quotes (') into
    # escaped ones (\')"
    assert render("$util.escapeJavaScript($input.path('$.s'))", given({"s": "it's"})) == "it\\'s"


def test_escape_javascript_then_replace_all_restores_single_quotes() -> None:
    # REFERENCE: $util.escapeJavaScript(data).replaceAll("\\'","'")
    template = "$util.escapeJavaScript($input.path('$.s')).replaceAll(\"\\\\'\",\"'\")"
    assert render(template, given({"s": 'it\'s "quoted"'})) == 'it\'s \\"quoted\\"'


def test_escape_javascript_escapes_control_and_non_ascii_characters() -> None:
    out = render("$util.escapeJavaScript($input.path('$.s'))", given({"s": "a\nb\té/😀"}))
    assert out == "a\\nb\\t\\u00E9\\/\\uD83D\\uDE00"


def test_parse_json_gives_an_object_to_walk() -> None:
    # REFERENCE, $util.parseJson(): the errorMessage example
    body = {"errorMessage": '{"key1":"var1","key2":{"arr":[1,2,3]}}'}
    template = (
        "#set ($errorMessageObj = $util.parseJson($input.path('$.errorMessage')))\n"
        "{\n"
        '   "errorMessageObjKey2ArrVal" : $errorMessageObj.key2.arr[0]\n'
        "}\n"
    )
    assert json.loads(render(template, given(body))) == {"errorMessageObjKey2ArrVal": 1}


def test_url_encode_writes_form_encoding() -> None:
    # REFERENCE: $util.urlEncode() converts into "application/x-www-form-urlencoded" format
    assert render("$util.urlEncode('a b&c=d/é')", given()) == "a+b%26c%3Dd%2F%C3%A9"


def test_url_decode_reads_form_encoding() -> None:
    # REFERENCE: $util.urlDecode() decodes an "application/x-www-form-urlencoded" string
    assert render("$util.urlDecode('a+b%26c%3Dd%2F%C3%A9')", given()) == "a b&c=d/é"


def test_base64_encode_and_decode_are_utf8() -> None:
    # REFERENCE: "Unless otherwise specified, the default character set is UTF-8."
    assert render("$util.base64Encode('héllo')", given()) == "aMOpbGxv"
    assert render("$util.base64Decode('aMOpbGxv')", given()) == "héllo"


def test_an_unknown_util_function_renders_nothing() -> None:
    # re:Post QUd8ArVQaaReyZv3nmigFDGQ: "When a non-existent function is referenced, no
    # error is shown"
    assert render("[$util.hmac('x')]", given()) == "[]"


# $context and $stageVariables ----------------------------------------------------------


def test_context_variables_fill_the_documented_example() -> None:
    # EXAMPLES, "Example 1: Pass multiple $context variables to the integration endpoint"
    template = (
        '{"stage" : "$context.stage", "request_id" : "$context.requestId", '
        '"source_ip" : "$context.identity.sourceIp", "user-agent" : "$context.identity.userAgent"}'
    )
    context = {
        "stage": "prod",
        "requestId": "abcdefg-000-000-0000-abcdefg",
        "identity": {"sourceIp": "192.0.2.1", "userAgent": "curl/7.84.0"},
    }
    assert json.loads(render(template, given(context=context))) == {
        "stage": "prod",
        "request_id": "abcdefg-000-000-0000-abcdefg",
        "source_ip": "192.0.2.1",
        "user-agent": "curl/7.84.0",
    }


def test_authorizer_context_values_are_stringified() -> None:
    # WEBSOCKET / REFERENCE, $context.authorizer.property: numKey returns "1", boolKey "true"
    context = {"authorizer": {"key": "value", "numKey": 1, "boolKey": True}}
    template = "$context.authorizer.key $context.authorizer.numKey $context.authorizer.boolKey"
    assert render(template, given(context=context)) == "value 1 true"


def test_websocket_context_variables_render() -> None:
    # WEBSOCKET: connectionId, eventType, routeKey, messageId, connectedAt
    context = {
        "connectionId": "L0SM9cOFvHcCIhw=",
        "eventType": "MESSAGE",
        "routeKey": "sendMessage",
        "messageId": "L0SM9dOFvHcCIhw=",
        "connectedAt": 1700000000000,
    }
    template = (
        "$context.connectionId $context.eventType $context.routeKey"
        " $context.messageId $context.connectedAt"
    )
    out = render(template, given(context=context))
    assert out == "L0SM9cOFvHcCIhw= MESSAGE sendMessage L0SM9dOFvHcCIhw= 1700000000000"


def test_the_seeds_request_template_sends_the_connection_and_message() -> None:
    # The article this project began from (issue 22):
    # {"connectionId": "$context.connectionId", "message": $input.json('$.message')}
    template = '{"connectionId": "$context.connectionId", "message": $input.json(\'$.message\')}'
    frame = {"action": "sendMessage", "message": 'he said "hi"'}
    out = render(template, given(frame, context={"connectionId": "abc="}))
    assert json.loads(out) == {"connectionId": "abc=", "message": 'he said "hi"'}


@pytest.mark.parametrize(
    "template",
    ["$stageVariables.url", "$stageVariables['url']", "${stageVariables['url']}"],
)
def test_stage_variables_in_each_documented_syntax(template: str) -> None:
    # REFERENCE, $stageVariables: the three syntaxes
    assert render(template, given(stage_variables={"url": "http://example.com"})) == (
        "http://example.com"
    )


def test_an_unset_reference_renders_nothing() -> None:
    # toqoz/api-gateway-mapping-template#5: API Gateway renders a missing object as ""
    assert render('"$context.authorizer.claims.sub" "$nothing.at.all"', given()) == '"" ""'


# Directives ----------------------------------------------------------------------------


def test_set_if_elseif_else() -> None:
    template = (
        "#set($n = $input.path('$.pets').size())#if($n > 5)many#elseif($n > 1)some#else one#end"
    )
    assert render(template, given(PETS)) == "some"


# Errors ---------------------------------------------------------------------------------


def test_a_template_that_does_not_parse_says_where() -> None:
    with pytest.raises(MappingTemplateError) as caught:
        render('{\n  "a": #if($x\n}', given())
    assert (caught.value.line, caught.value.column) == (2, 14)  # where ")" was due


def test_a_failing_call_says_what_and_where() -> None:
    with pytest.raises(MappingTemplateError, match=r"parseJson: not JSON") as caught:
        render("ok\n  #set($x = $util.parseJson('nope'))", given())
    assert (caught.value.line, caught.value.column) == (2, 3)


def test_an_invalid_jsonpath_is_a_template_error() -> None:
    with pytest.raises(MappingTemplateError, match="invalid JSONPath"):
        render("$input.json('$[[')", given({"a": 1}))


def test_input_params_finds_a_header_whatever_its_case() -> None:
    # The stage's choice (docs/local-stage.md, "Mapping templates"): HTTP/2 clients send
    # lower-case names, and a template asks for "Authorization".
    assert render("$input.params('Authorization')", given(header={"authorization": "t"})) == "t"
