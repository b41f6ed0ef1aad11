"""REST and HTTP APIs of a template, as aws-sam-translator makes them and the stage
reads them; SAM's WebSocket API under the logical ids SAM generates."""

import json
import textwrap

import pytest

from tests.support.paths import FIXTURES
from wslocal.exceptions import TemplateError
from wslocal.template import build_stage_model, read_template
from wslocal.template.intrinsics import load_yaml

FUNCTION = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
"""


def model(tmp_path, resources, **kwargs):
    (tmp_path / "src").mkdir(exist_ok=True)
    text = "Transform: AWS::Serverless-2016-10-31\nResources:\n"
    text += textwrap.indent(textwrap.dedent(resources), "  ")
    return build_stage_model(load_yaml(text + FUNCTION), tmp_path, **kwargs)


def test_an_api_event_makes_the_implicit_rest_api_with_stage_prod(tmp_path):
    stage = model(
        tmp_path,
        FUNCTION.replace(
            "Runtime: python3.12",
            """Runtime: python3.12
      Events:
        Get: {Type: Api, Properties: {Path: "/a/{id}", Method: get}}""",
        ).replace("  Fn:", "  Other:"),
    )
    [rest] = stage.proxy_apis
    assert (rest.logical_id, rest.kind, rest.stage_name) == ("ServerlessRestApi", "REST", "Prod")
    assert [(r.method, r.path, r.function) for r in rest.routes] == [("GET", "/a/{id}", "Other")]


def test_an_http_api_event_makes_the_implicit_http_api_on_default(tmp_path):
    stage = model(
        tmp_path,
        FUNCTION.replace(
            "Runtime: python3.12",
            """Runtime: python3.12
      Events:
        Get: {Type: HttpApi, Properties: {Path: /b, Method: post, TimeoutInMillis: 500}}""",
        ).replace("  Fn:", "  Other:"),
    )
    [http] = stage.proxy_apis
    assert (http.logical_id, http.stage_name, http.stage_in_path) == (
        "ServerlessHttpApi",
        "$default",
        False,
    )
    [route] = http.routes
    assert (route.route_key, route.payload_format, route.timeout_s) == ("POST /b", "2.0", 0.5)


def test_a_serverless_websocket_apis_routes_have_sams_logical_ids(tmp_path):
    stage = model(
        tmp_path,
        """
      Ws:
        Type: AWS::Serverless::WebSocketApi
        Properties:
          RouteSelectionExpression: $request.body.op
          StageName: beta
          Routes:
            $connect: {FunctionArn: !GetAtt Fn.Arn}
            ping: {FunctionArn: !GetAtt Fn.Arn}
      PingResponse:
        Type: AWS::ApiGatewayV2::RouteResponse
        Properties: {ApiId: !Ref Ws, RouteId: !Ref WsPingRoute, RouteResponseKey: $default}
    """,
    )
    assert (stage.api_logical_id, stage.stage_name) == ("Ws", "beta")
    assert stage.route_selection_expression == "$request.body.op"
    assert stage.routes["ping"].two_way and not stage.routes["$connect"].two_way


def test_a_serverless_websocket_apis_authorizer_is_on_connect(tmp_path):
    stage = model(
        tmp_path,
        """
      Ws:
        Type: AWS::Serverless::WebSocketApi
        Properties:
          RouteSelectionExpression: $request.body.op
          Auth:
            AuthType: CUSTOM
            AuthArn: !GetAtt Fn.Arn
            IdentitySource: [route.request.header.Auth]
          Routes:
            $connect: {FunctionArn: !GetAtt Fn.Arn}
    """,
    )
    authorizer = stage.routes["$connect"].authorizer
    assert (authorizer.logical_id, authorizer.function) == ("WsConnectAuthorizer", "Fn")


def test_what_the_translator_refuses_is_a_template_error_in_its_words(tmp_path):
    with pytest.raises(TemplateError, match="AuthArn must be specified"):
        model(
            tmp_path,
            """
          Ws:
            Type: AWS::Serverless::WebSocketApi
            Properties:
              RouteSelectionExpression: $request.body.op
              Auth: {AuthType: CUSTOM}
              Routes:
                $connect: {FunctionArn: !GetAtt Fn.Arn}
        """,
        )


def test_a_local_definition_uri_is_read_as_the_apis_openapi(tmp_path):
    (tmp_path / "api.json").write_text(json.dumps({
        "openapi": "3.0.1",
        "info": {"title": "t", "version": "1"},
        "paths": {"/c": {"get": {"x-amazon-apigateway-integration": {
            "type": "aws_proxy", "httpMethod": "POST", "payloadFormatVersion": "2.0",
            "uri": {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31"
                               "/functions/${Fn.Arn}/invocations"},
        }}}},
    }))  # fmt: skip
    stage = model(
        tmp_path,
        """
      Http:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionUri: api.json
    """,
    )
    [http] = stage.proxy_apis
    assert [(r.route_key, r.function) for r in http.routes] == [("GET /c", "Fn")]


def test_an_integration_an_http_api_does_not_take_is_listed_as_not_served(tmp_path):
    (tmp_path / "api.json").write_text(json.dumps({
        "openapi": "3.0.1", "info": {"title": "t", "version": "1"},
        "paths": {"/d": {"get": {"x-amazon-apigateway-integration": {
            "type": "http", "httpMethod": "GET", "uri": "https://example.com",
        }}}},
    }))  # fmt: skip
    stage = model(
        tmp_path,
        """
      Http:
        Type: AWS::Serverless::HttpApi
        Properties:
          DefinitionUri: api.json
    """,
    )
    assert stage.proxy_apis[0].routes == ()
    assert any("Http GET /d" in line for line in stage.not_emulated)


def test_http_api_routes_written_as_apigatewayv2_resources_are_read(tmp_path):
    stage = model(
        tmp_path,
        """
      Http:
        Type: AWS::ApiGatewayV2::Api
        Properties: {Name: h, ProtocolType: HTTP}
      Route:
        Type: AWS::ApiGatewayV2::Route
        Properties:
          ApiId: !Ref Http
          RouteKey: "GET /e/{x}"
          Target: !Sub "integrations/${Integration}"
      Integration:
        Type: AWS::ApiGatewayV2::Integration
        Properties:
          ApiId: !Ref Http
          IntegrationType: AWS_PROXY
          IntegrationUri: !GetAtt Fn.Arn
          PayloadFormatVersion: "1.0"
    """,
    )
    [route] = stage.proxy_apis[0].routes
    assert (route.route_key, route.function, route.payload_format) == ("GET /e/{x}", "Fn", "1.0")


def test_authorizers_are_read_from_sams_auth_with_their_routes():
    app = FIXTURES / "auth_app"
    stage = build_stage_model(read_template(app / "template.yaml"), app)
    apis = {api.logical_id: api for api in stage.proxy_apis}
    rest, http = apis["ShopApi"], apis["GuardedHttpApi"]
    assert {name: a.kind for name, a in rest.authorizers.items()} == {
        "TokenAuth": "TOKEN", "KeyAuth": "REQUEST", "Pool": "COGNITO",
    }  # fmt: skip
    token = rest.authorizers["TokenAuth"]
    assert (token.identity_sources, token.ttl_s) == (("method.request.header.Authorization",), 300)
    assert {r.path: r.authorizer for r in rest.routes if r.method == "GET"} == {
        "/token": "TokenAuth", "/elsewhere": "TokenAuth", "/key": "KeyAuth", "/pool": "Pool",
        "/pool/scoped": "Pool", "/open": None,
    }  # fmt: skip
    assert {r.path: r.scopes for r in rest.routes}["/pool/scoped"] == ("shop/read",)
    jwt = http.authorizers["Jwt"]
    assert (jwt.kind, jwt.audience) == ("JWT", ("test-app-client",))
    assert {r.path: r.scopes for r in http.routes}["/orders"] == ("orders/read",)


def test_a_serverless_apis_variables_are_its_stage_variables(tmp_path):
    stage = model(
        tmp_path,
        """
      Rest:
        Type: AWS::Serverless::Api
        Properties:
          StageName: v1
          Variables: {lambdaAlias: live, retries: 3}
      Http:
        Type: AWS::Serverless::HttpApi
        Properties:
          StageVariables: {mode: debug}
    """,
    )
    variables = {api.logical_id: api.stage_variables for api in stage.proxy_apis}
    assert variables == {"Rest": {"lambdaAlias": "live", "retries": "3"}, "Http": {"mode": "debug"}}


def test_an_apigateway_stages_variables_are_its_apis_stage_variables(tmp_path):
    stage = model(
        tmp_path,
        """
      Rest:
        Type: AWS::ApiGateway::RestApi
        Properties: {Name: r}
      RestStage:
        Type: AWS::ApiGateway::Stage
        Properties: {RestApiId: !Ref Rest, StageName: v2, Variables: {a: "1"}}
      Http:
        Type: AWS::ApiGatewayV2::Api
        Properties: {Name: h, ProtocolType: HTTP}
      HttpStage:
        Type: AWS::ApiGatewayV2::Stage
        Properties: {ApiId: !Ref Http, StageName: beta, StageVariables: {b: "2"}}
    """,
    )
    variables = {api.logical_id: api.stage_variables for api in stage.proxy_apis}
    assert variables == {"Rest": {"a": "1"}, "Http": {"b": "2"}}


def test_an_api_without_stage_variables_has_none(tmp_path):
    stage = model(
        tmp_path,
        """
      Http:
        Type: AWS::Serverless::HttpApi
    """,
    )
    assert stage.proxy_apis[0].stage_variables == {}


V2_API = """
      Http:
        Type: AWS::ApiGatewayV2::Api
        Properties: {Name: h, ProtocolType: HTTP}
      Integration:
        Type: AWS::ApiGatewayV2::Integration
        Properties: {ApiId: !Ref Http, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn}
      Lambda:
        Type: AWS::ApiGatewayV2::Authorizer
        Properties:
          ApiId: !Ref Http
          Name: lambda
          AuthorizerType: REQUEST
          AuthorizerUri: !Sub "LAMBDA_URI"
          AuthorizerPayloadFormatVersion: "2.0"
          EnableSimpleResponses: true
          AuthorizerResultTtlInSeconds: 60
          IdentitySource: [$request.header.X-Key]
      Jwt:
        Type: AWS::ApiGatewayV2::Authorizer
        Properties:
          ApiId: !Ref Http
          Name: jwt
          AuthorizerType: JWT
          IdentitySource: [$request.header.Authorization]
          JwtConfiguration: {Issuer: "https://issuer.example", Audience: [app]}
""".replace(
    "LAMBDA_URI",
    "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations",
)


def v2_route(key, **properties):
    lines = "".join(f"\n          {name}: {value}" for name, value in properties.items())
    return f"""
      Route{abs(hash(key))}:
        Type: AWS::ApiGatewayV2::Route
        Properties:
          ApiId: !Ref Http
          RouteKey: "{key}"
          Target: !Sub "integrations/${{Integration}}"{lines}
"""


def test_a_v2_routes_custom_authorizer_is_its_lambda_authorizer(tmp_path):
    stage = model(
        tmp_path,
        V2_API + v2_route("GET /k", AuthorizationType="CUSTOM", AuthorizerId="!Ref Lambda"),
    )
    [http] = stage.proxy_apis
    [route] = http.routes
    authorizer = http.authorizers[route.authorizer]
    assert (authorizer.kind, authorizer.function, authorizer.identity_sources) == (
        "REQUEST", "Fn", ("$request.header.X-Key",),
    )  # fmt: skip
    assert (authorizer.payload_format, authorizer.simple_responses, authorizer.ttl_s) == (
        "2.0", True, 60,
    )  # fmt: skip


def test_a_v2_authorizers_ttl_that_is_not_a_number_names_the_authorizer(tmp_path):
    api = V2_API.replace("AuthorizerResultTtlInSeconds: 60", "AuthorizerResultTtlInSeconds: soon")
    with pytest.raises(TemplateError, match=r"Lambda\.AuthorizerResultTtlInSeconds: 'soon'"):
        model(
            tmp_path,
            api + v2_route("GET /k", AuthorizationType="CUSTOM", AuthorizerId="!Ref Lambda"),
        )


def test_a_v2_routes_jwt_authorizer_comes_with_the_routes_scopes(tmp_path):
    stage = model(
        tmp_path,
        V2_API + v2_route("GET /j", AuthorizationType="JWT", AuthorizerId="!Ref Jwt",
                          AuthorizationScopes="[orders/read]"),
    )  # fmt: skip
    [http] = stage.proxy_apis
    [route] = http.routes
    authorizer = http.authorizers[route.authorizer]
    assert (authorizer.kind, authorizer.issuer, authorizer.audience) == (
        "JWT", "https://issuer.example", ("app",),
    )  # fmt: skip
    assert route.scopes == ("orders/read",)


def test_a_v2_route_with_iam_authorization_is_served_open_and_said(tmp_path):
    stage = model(tmp_path, V2_API + v2_route("GET /i", AuthorizationType="AWS_IAM"))
    [route] = stage.proxy_apis[0].routes
    assert route.authorizer is None
    assert any("GET /i" in line and "AWS_IAM" in line for line in stage.not_emulated)


def test_a_v2_route_naming_no_authorizer_of_its_api_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="AuthorizerId"):
        model(tmp_path, V2_API + v2_route("GET /n", AuthorizationType="CUSTOM",
                                          AuthorizerId="nope"))  # fmt: skip


def test_a_token_authorizers_validation_expression_that_is_no_regex_is_a_template_error(
    tmp_path,
):
    with pytest.raises(TemplateError, match="ValidationExpression"):
        model(
            tmp_path,
            """
          Rest:
            Type: AWS::Serverless::Api
            Properties:
              StageName: v1
              Auth:
                DefaultAuthorizer: Tok
                Authorizers:
                  Tok:
                    FunctionArn: !GetAtt Fn.Arn
                    Identity: {ValidationExpression: "^(allow"}
          Other:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
                G: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /g, Method: get}}
        """,
        )
