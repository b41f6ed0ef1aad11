"""Finding a route's request templates in the stage's model, from each form of template
API Gateway takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from wslocal.exceptions import TemplateError
from wslocal.template import StageModel, build_stage_model
from wslocal.template.intrinsics import load_yaml
from wslocal.template.request_templates import find_request_templates

WEBSOCKET = """
Resources:
  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: sendMessage
      Target: !Sub integrations/${SendIntegration}
  SendIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: HTTP
      IntegrationUri: http://127.0.0.1:8000/send
      TemplateSelectionExpression: \\$default
      RequestTemplates:
        $default: '{"connectionId": "$context.connectionId"}'
  PingRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: ping
      Target: !Join ["/", [integrations, !Ref PingIntegration]]
  PingIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: MOCK
      RequestTemplates: {$default: '{"statusCode": 200}'}
"""

OPENAPI = """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      DefinitionBody:
        openapi: "3.0.1"
        paths:
          /orders:
            post:
              x-amazon-apigateway-integration:
                type: aws
                uri: arn:aws:apigateway:us-east-1:sqs:action/SendMessage
                requestTemplates:
                  application/json: '{"order": $input.json(''$'')}'
"""


def model(text: str, tmp_path: Path, parameters: dict[str, str] | None = None) -> StageModel:
    return build_stage_model(load_yaml(text), tmp_path, parameters)


def test_a_websocket_routes_templates_are_found_through_its_target(tmp_path: Path) -> None:
    found = find_request_templates(model(WEBSOCKET, tmp_path), "sendMessage", None, None)
    assert (found.api, found.integration, found.websocket) == ("ChatApi", "SendIntegration", True)
    assert found.templates == {"$default": '{"connectionId": "$context.connectionId"}'}
    assert found.selection_expression == "\\$default"


def test_an_openapi_bodys_request_templates_are_found(tmp_path: Path) -> None:
    found = find_request_templates(model(OPENAPI, tmp_path), "post /orders", None, None)
    assert found.templates == {"application/json": "{\"order\": $input.json('$')}"}


def test_an_integration_is_found_by_its_logical_id(tmp_path: Path) -> None:
    found = find_request_templates(model(WEBSOCKET, tmp_path), None, "PingIntegration", None)
    assert found.route == "ping"


def test_an_unknown_route_lists_the_routes_there_are(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"there are: sendMessage .*ping"):
        find_request_templates(model(WEBSOCKET, tmp_path), "nope", None, None)


def test_several_matches_ask_for_an_integration(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="several integrations match"):
        find_request_templates(model(WEBSOCKET, tmp_path), None, None, "ChatApi")


SUBSTITUTED = """
Parameters:
  Room: {Type: String, Default: lobby}
Resources:
  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: sendMessage
      Target: !Sub integrations/${SendIntegration}
  SendIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: HTTP
      IntegrationUri: http://127.0.0.1:8000/send
      RequestTemplates:
        $default: !Sub '{"room": "${Room}", "id": "$context.connectionId"}'
"""


def test_a_sub_template_is_found_substituted_as_the_stage_serves_it(tmp_path: Path) -> None:
    found = find_request_templates(
        model(SUBSTITUTED, tmp_path, {"Room": "kitchen"}), "sendMessage", None, None
    )
    assert found.templates == {"$default": '{"room": "kitchen", "id": "$context.connectionId"}'}
