"""WebSocket routes whose integration is HTTP, HTTP_PROXY, MOCK or AWS are read with their
templates, parameters and integration responses (issue 22: they used to be refused)."""

import textwrap
from pathlib import Path

import pytest

from wslocal.exceptions import TemplateError
from wslocal.template import build_stage_model
from wslocal.template.intrinsics import load_yaml

TEMPLATE = r"""
Transform: AWS::Serverless-2016-10-31
Parameters:
  BackendUrl:
    Type: String
    Default: http://127.0.0.1:8000
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: seed
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: sendMessage
      Target: !Sub integrations/${SendIntegration}
  SendIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: HTTP
      IntegrationMethod: POST
      IntegrationUri: !Sub ${BackendUrl}/send-message
      TimeoutInMillis: 5000
      PassthroughBehavior: NEVER
      TemplateSelectionExpression: \$default
      RequestTemplates:
        $default: '{"connectionId": "$context.connectionId", "message": $input.json(''$.message'')}'
      RequestParameters:
        integration.request.header.X-Connection: context.connectionId
  SendIntegrationResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties:
      ApiId: !Ref Api
      IntegrationId: !Ref SendIntegration
      IntegrationResponseKey: /4\d\d/
      TemplateSelectionExpression: \$default
      ResponseTemplates:
        $default: '{"error": $input.json(''$.detail'')}'
  PingRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: ping
      Target: !Sub integrations/${PingIntegration}
  PingIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: MOCK
      RequestTemplates:
        $default: '{"statusCode": 200}'
  PingResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Api
      RouteId: !Ref PingRoute
      RouteResponseKey: $default
  StoreRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: store
      Target: !Sub integrations/${StoreIntegration}
  StoreIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS
      IntegrationMethod: POST
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:dynamodb:action/PutItem
      CredentialsArn: arn:aws:iam::123456789012:role/ApiGatewayDynamoDB
  ShoutRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: shout
      Target: !Sub integrations/${ShoutIntegration}
  ShoutIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS
      IntegrationMethod: POST
      IntegrationUri: !Sub >-
        arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Shout.Arn}/invocations
  Shout:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
"""


@pytest.fixture
def routes(tmp_path: Path):
    (tmp_path / "src").mkdir()
    return build_stage_model(load_yaml(textwrap.dedent(TEMPLATE)), tmp_path).routes


def test_an_http_integration_is_read_with_its_template_and_parameters(routes):
    integration = routes["sendMessage"].integration
    assert routes["sendMessage"].function is None
    assert (integration.kind, integration.method, integration.uri, integration.timeout_s) == (
        "HTTP",
        "POST",
        "http://127.0.0.1:8000/send-message",
        5.0,
    )
    assert integration.template_selection_expression == r"\$default"
    assert integration.request_templates["$default"].startswith('{"connectionId"')
    assert integration.passthrough == "NEVER"
    assert integration.request_parameters == {
        "integration.request.header.X-Connection": "context.connectionId"
    }


def test_integration_responses_are_joined_to_their_integration(routes):
    (response,) = routes["sendMessage"].integration.responses
    assert response.key == r"/4\d\d/"
    assert response.templates == {"$default": "{\"error\": $input.json('$.detail')}"}


def test_a_mock_route_with_a_route_response_is_two_way(routes):
    assert routes["ping"].integration.kind == "MOCK"
    assert routes["ping"].two_way


def test_a_service_integration_keeps_its_uri_and_credentials(routes):
    integration = routes["store"].integration
    assert integration.uri == "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem"
    assert integration.function is None
    assert integration.credentials == "arn:aws:iam::123456789012:role/ApiGatewayDynamoDB"


def test_a_lambda_non_proxy_integration_names_its_function(routes):
    assert routes["shout"].integration.function == "Shout"
    assert routes["shout"].target == "AWS Shout"


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("IntegrationUri", "ftp://example.com/x"),
        ("PassthroughBehavior", "SOMETIMES"),
        ("TimeoutInMillis", "30000"),
        ("TimeoutInMillis", "soon"),
        ("TemplateSelectionExpression", ["$default"]),
    ],
)
def test_a_bad_integration_property_names_the_resource_and_property(tmp_path, prop, value):
    (tmp_path / "src").mkdir()
    document = load_yaml(textwrap.dedent(TEMPLATE))
    document["Resources"]["SendIntegration"]["Properties"][prop] = value
    with pytest.raises(TemplateError, match=rf"SendIntegration\.{prop}"):
        build_stage_model(document, tmp_path)


HTTP_API = """
Resources:
  Q:
    Type: AWS::SQS::Queue
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: h, ProtocolType: HTTP}
  R:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Http, RouteKey: POST /q, Target: !Sub "integrations/${I}"}
  I:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Http
      IntegrationType: AWS_PROXY
      IntegrationSubtype: SQS-SendMessage
      PayloadFormatVersion: "1.0"
      RequestParameters: {QueueUrl: !Ref Q, MessageBody: $request.body}
"""


def test_an_http_apis_sqs_send_message_subtype_is_read_with_its_fields(tmp_path):
    [api] = build_stage_model(load_yaml(HTTP_API), tmp_path).proxy_apis
    integration = api.routes[0].integration
    assert (integration.kind, integration.subtype) == ("AWS", "SQS-SendMessage")
    assert integration.request_parameters["MessageBody"] == "$request.body"


def test_a_subtype_missing_a_required_field_names_the_resource(tmp_path):
    document = load_yaml(HTTP_API)
    del document["Resources"]["I"]["Properties"]["RequestParameters"]["MessageBody"]
    with pytest.raises(TemplateError, match=r"I\.RequestParameters: .*missing MessageBody"):
        build_stage_model(document, tmp_path)


@pytest.mark.parametrize(
    ("destination", "source"),
    [
        ("integration.request.body.x", "context.connectionId"),
        ("integration.request.header.X", "request.header.y"),
    ],
)
def test_a_request_parameter_api_gateway_would_refuse_is_refused_at_start(
    tmp_path, destination, source
):
    (tmp_path / "src").mkdir()
    document = load_yaml(textwrap.dedent(TEMPLATE))
    properties = document["Resources"]["SendIntegration"]["Properties"]
    properties["RequestParameters"] = {destination: source}
    with pytest.raises(TemplateError, match=r"SendIntegration\.RequestParameters"):
        build_stage_model(document, tmp_path)


def test_an_http_api_parameter_mapping_must_name_an_action(tmp_path):
    document = load_yaml(HTTP_API)
    document["Resources"]["I"]["Properties"] = {
        "ApiId": {"Ref": "Http"},
        "IntegrationType": "HTTP_PROXY",
        "IntegrationMethod": "ANY",
        "IntegrationUri": "http://127.0.0.1:8000",
        "RequestParameters": {"header.x": "y"},
    }
    with pytest.raises(TemplateError, match=r"I\.RequestParameters: 'header\.x'"):
        build_stage_model(document, tmp_path)


def test_an_aws_integration_uri_that_names_no_function_or_service_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    document = load_yaml(textwrap.dedent(TEMPLATE))
    document["Resources"]["StoreIntegration"]["Properties"]["IntegrationUri"] = "dynamodb"
    with pytest.raises(TemplateError, match=r"StoreIntegration\.IntegrationUri"):
        build_stage_model(document, tmp_path)
