"""``wslocal render-template`` as people run it: a process, the event piped from
``wslocal generate-event``, the route's template read from a SAM template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

WSLOCAL = [sys.executable, "-m", "wslocal.cli"]

SAM_APP = """
Transform: AWS::Serverless-2016-10-31
Resources:
  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      {Name: chat, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
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
      IntegrationMethod: POST
      IntegrationUri: http://localhost:8000/send
      TemplateSelectionExpression: \\$default
      RequestTemplates:
        $default: '{"connectionId": "$context.connectionId", "message": $input.json(''$.message'')}'
  OrdersApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      DefinitionBody:
        openapi: "3.0.1"
        info: {title: orders, version: "1"}
        paths:
          /orders/{id}:
            put:
              x-amazon-apigateway-integration:
                type: http
                httpMethod: PUT
                uri: http://localhost:8000/orders
                requestTemplates:
                  application/json: '{"id": "$input.params(''id'')", "qty": $input.path(''$.qty'')}'
"""


def wslocal(*args: str, stdin: str | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WSLOCAL, *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_a_generated_message_piped_to_render_template_prints_what_the_backend_gets(
    tmp_path: Path,
) -> None:
    (tmp_path / "template.yaml").write_text(SAM_APP)
    generated = wslocal(
        "generate-event", "websocket", "message", "--route-key", "sendMessage",
        "--body", '{"action":"sendMessage","message":"hi"}', cwd=tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    rendered = wslocal(
        "render-template", "--route", "sendMessage", "-e", "-", stdin=generated.stdout, cwd=tmp_path
    )
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads(rendered.stdout) == {"connectionId": "L0SM9cOFvHcCIhw=", "message": "hi"}


def test_a_sam_apis_openapi_template_renders_on_a_generated_rest_request(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(SAM_APP)
    generated = wslocal(
        "generate-event", "apigateway", "rest", "--method", "PUT", "--resource", "/orders/{id}",
        "--path", "/orders/7", "--header", "Content-Type=application/json", "--body", '{"qty": 3}',
        cwd=tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    rendered = wslocal(
        "render-template", "--route", "PUT /orders/{id}", "-e", "-",
        stdin=generated.stdout, cwd=tmp_path,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads(rendered.stdout) == {"id": "7", "qty": 3}
    assert "request template 'application/json'" in rendered.stderr
