"""Finding a route's request templates in a template, in each form API Gateway takes."""

from __future__ import annotations

from typing import Any

import pytest

from wslocal.exceptions import TemplateError
from wslocal.template.intrinsics import load_yaml
from wslocal.template.request_templates import find_request_templates, request_templates

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

REST = """
Resources:
  PetsApi:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: pets}
  Pets:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref PetsApi, ParentId: !GetAtt PetsApi.RootResourceId, PathPart: pets}
  Pet:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref PetsApi, ParentId: !Ref Pets, PathPart: "{id}"}
  GetPet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref PetsApi
      ResourceId: !Ref Pet
      HttpMethod: GET
      Integration:
        Type: HTTP
        RequestTemplates: {application/json: '{"id": "$input.params(''id'')"}'}
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
                requestTemplates:
                  application/json: '{"order": $input.json(''$'')}'
"""


def resources(text: str) -> dict[str, Any]:
    return load_yaml(text)["Resources"]  # type: ignore[no-any-return]


def test_a_websocket_routes_templates_are_found_through_its_target() -> None:
    found = find_request_templates(resources(WEBSOCKET), "sendMessage", None, None)
    assert (found.api, found.integration, found.websocket) == ("ChatApi", "SendIntegration", True)
    assert found.templates == {"$default": '{"connectionId": "$context.connectionId"}'}
    assert found.selection_expression == "\\$default"


def test_a_rest_methods_route_is_its_method_and_resource_path() -> None:
    (found,) = request_templates(resources(REST))
    assert (found.route, found.api, found.integration) == ("GET /pets/{id}", "PetsApi", "GetPet")


def test_an_openapi_bodys_request_templates_are_found() -> None:
    found = find_request_templates(resources(OPENAPI), "post /orders", None, None)
    assert found.templates == {"application/json": "{\"order\": $input.json('$')}"}


def test_an_integration_is_found_by_its_logical_id() -> None:
    found = find_request_templates(resources(WEBSOCKET), None, "PingIntegration", None)
    assert found.route == "ping"


def test_an_unknown_route_lists_the_routes_there_are() -> None:
    with pytest.raises(TemplateError, match=r"there are: sendMessage .*ping"):
        find_request_templates(resources(WEBSOCKET), "nope", None, None)


def test_several_matches_ask_for_an_integration() -> None:
    with pytest.raises(TemplateError, match="several integrations match"):
        find_request_templates(resources(WEBSOCKET), None, None, "ChatApi")
