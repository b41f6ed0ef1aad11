"""``wslocal render-template``: a template (a file, or a route's in template.yaml) rendered
on an event (a file or stdin), printed as API Gateway would send it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from wslocal import cli, samples
from wslocal.exceptions import WslocalError
from wslocal.render_template import pairs

SEED_TEMPLATE = """
Resources:
  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: sendMessage
      Target: !Join ["/", [integrations, !Ref SendIntegration]]
  SendIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: HTTP
      IntegrationUri: http://localhost:8000/send
      TemplateSelectionExpression: \\$default
      RequestTemplates:
        $default: >-
          {"connectionId": "$context.connectionId", "message": $input.json('$.message'),
          "ip": "$context.identity.sourceIp", "env": "$stageVariables.env"}
"""


def websocket_message(body: str) -> dict[str, object]:
    return samples.websocket_event(
        "message", api_id="abcdef1234", stage="dev", region="us-east-1",
        connection_id="L0SM9cOFvHcCIhw=", route_key="sendMessage", body=body, query=[],
        request_id="r", message_id="m", now_ms=1_700_000_000_000,
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(SEED_TEMPLATE)
    event = websocket_message('{"action": "sendMessage", "message": "hello \\"you\\""}')
    (tmp_path / "event.json").write_text(json.dumps(event))
    return tmp_path


def test_a_routes_template_renders_on_an_event_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["render-template", "-t", str(project / "template.yaml"), "--route", "sendMessage",
         "-e", str(project / "event.json"), "--stage-variable", "env=dev",
         "--context", "identity.sourceIp=203.0.113.9"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out) == {
        "connectionId": "L0SM9cOFvHcCIhw=",
        "message": 'hello "you"',
        "ip": "203.0.113.9",
        "env": "dev",
    }
    assert "SendIntegration's request template '$default'" in err


def test_the_templates_parameters_are_given_as_for_start(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The stage's model needs every parameter without a default, as `wslocal start` does.
    template = SEED_TEMPLATE.replace(
        "Resources:", "Parameters:\n  Room: {Type: String}\nResources:", 1
    ).replace('"env": "$stageVariables.env"', '"room": "${Room}"')
    template = template.replace("        $default: >-", "        $default: !Sub >-")
    (project / "template.yaml").write_text(template)
    code = cli.main(
        ["render-template", "-t", str(project / "template.yaml"), "--route", "sendMessage",
         "-e", str(project / "event.json"), "--parameter-overrides", 'Room="kitchen"']
    )  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["room"] == "kitchen"


def test_a_template_file_renders_on_an_event_from_stdin(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "ping.vtl").write_text('#set($n = 2){"statusCode": $n}0')
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(websocket_message("{}"))))
    code = cli.main(["render-template", "--template-file", str(project / "ping.vtl"), "-e", "-"])
    assert code == 0
    assert capsys.readouterr().out == '{"statusCode": 2}0\n'


def test_a_rest_request_template_is_chosen_by_the_events_content_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Api:\n"
        "    Type: AWS::ApiGateway::RestApi\n"
        "    Properties:\n"
        "      Body:\n"
        "        paths:\n"
        "          /orders:\n"
        "            post:\n"
        "              x-amazon-apigateway-integration:\n"
        "                type: http\n"
        "                uri: http://127.0.0.1:8000/orders\n"
        "                requestTemplates:\n"
        "                  application/json: 'json $input.path(''$.n'')'\n"
        "                  application/xml: 'xml $input.body'\n"
    )
    event = samples.api_request_event(
        "rest", method="POST", resource="/orders", path="/orders", query="",
        headers=[("Content-Type", "application/xml")], body="<n/>", api_id="abcdef1234",
        stage="Prod", region="us-east-1", account_id="123456789012", request_id="r",
        now_ms=1_700_000_000_000, payload_format=None,
    )  # fmt: skip
    (tmp_path / "event.json").write_text(json.dumps(event))
    code = cli.main(
        ["render-template", "-t", str(tmp_path / "template.yaml"), "--route", "POST /orders",
         "-e", str(tmp_path / "event.json")]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out == "xml <n/>\n"


def test_a_template_that_does_not_render_is_a_clear_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "bad.vtl").write_text('{\n  "a": $util.parseJson("nope")\n}')
    code = cli.main(["render-template", "--template-file", str(project / "bad.vtl")])
    err = capsys.readouterr().err
    assert code == 2
    assert "wslocal: mapping template: line 2, column 8: $util.parseJson: not JSON" in err


def test_an_unknown_route_names_the_routes_there_are(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["render-template", "-t", str(project / "template.yaml"), "--route", "nope"])
    assert code == 2
    assert "there are: sendMessage (ChatApi.SendIntegration)" in capsys.readouterr().err


def test_a_malformed_option_is_a_clear_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "t.vtl").write_text("x")
    code = cli.main(
        ["render-template", "--template-file", str(project / "t.vtl"), "--stage-variable", "x"]
    )
    assert code == 2
    assert "--stage-variable takes NAME=VALUE, not 'x'" in capsys.readouterr().err


def test_overrides_the_template_sets_are_said(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "r.vtl").write_text(
        "#set($context.responseOverride.status = 404)"
        '#set($context.requestOverride.header.trace = "t1")gone'
    )
    code = cli.main(["render-template", "--template-file", str(project / "r.vtl")])
    out, err = capsys.readouterr()
    assert (code, out) == (0, "gone\n")
    assert "overrides the status: 404" in err
    assert "overrides the request's header: {'trace': 't1'}" in err


def test_name_value_options_keep_their_order_repeats_and_equals_signs() -> None:
    assert pairs(["a=1", "b=x=y", "a=2"], "--header") == [("a", "1"), ("b", "x=y"), ("a", "2")]


def test_a_name_value_option_without_a_name_names_the_option() -> None:
    with pytest.raises(WslocalError, match="--context takes NAME=VALUE"):
        pairs(["=1"], "--context")


def test_context_stage_and_api_id_are_those_of_the_api_serving_the_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Api:\n"
        "    Type: AWS::Serverless::Api\n"
        "    Properties:\n"
        "      StageName: v1\n"
        "      DefinitionBody:\n"
        "        paths:\n"
        "          /orders:\n"
        "            post:\n"
        "              x-amazon-apigateway-integration:\n"
        "                type: http\n"
        "                uri: http://127.0.0.1:8000/orders\n"
        "                requestTemplates:\n"
        "                  application/json: '$context.stage $context.apiId'\n"
    )
    (tmp_path / "event.json").write_text('{"body": "{}"}')
    command = ["render-template", "-t", str(tmp_path / "template.yaml"), "--route", "POST /orders",
               "-e", str(tmp_path / "event.json")]  # fmt: skip
    assert cli.main(command) == 0
    stage, api_id = capsys.readouterr().out.split()
    assert stage == "v1" and api_id
    assert cli.main([*command, "--context", "stage=beta"]) == 0
    assert capsys.readouterr().out.split()[0] == "beta"
