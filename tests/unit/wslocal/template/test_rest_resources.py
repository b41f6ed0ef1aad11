"""A REST API written as CloudFormation resources (``AWS::ApiGateway::Resource``,
``Method``, ``Authorizer``, ``Deployment``, ``Stage``) reads into the same model as its
OpenAPI form; what does not fit is a TemplateError naming the resource and property."""

import textwrap

import pytest

from wslocal.exceptions import TemplateError
from wslocal.template import build_stage_model
from wslocal.template.intrinsics import load_yaml
from wslocal.template.model import IntegrationResponseModel
from wslocal.template.request_templates import find_request_templates

HEAD = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Backend: {Type: String, Default: "http://127.0.0.1:9"}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12}
  Auth:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.authorize, Runtime: python3.12}
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: items}
"""

TREE = """
  Items:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: items}
  Item:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !Ref Items, PathPart: "{id}"}
  Notes:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Item.ResourceId, PathPart: notes}
  Files:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: "{proxy+}"}
  GetItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Item
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub >-
          arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
        TimeoutInMillis: 5000
  AnyFile:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Files
      HttpMethod: ANY
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref TokenAuth
      Integration:
        Type: HTTP_PROXY
        IntegrationHttpMethod: ANY
        Uri: !Sub ${Backend}/{proxy}
        RequestParameters:
          integration.request.path.proxy: method.request.path.proxy
  PostNote:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Notes
      HttpMethod: POST
      AuthorizationType: NONE
      Integration:
        Type: HTTP
        IntegrationHttpMethod: PUT
        Uri: !Sub ${Backend}/notes/{id}
        PassthroughBehavior: NEVER
        RequestParameters:
          integration.request.path.id: method.request.path.id
        RequestTemplates:
          application/json: '{"text": $input.json(''$.text'')}'
        IntegrationResponses:
          - StatusCode: 201
            ResponseTemplates: {application/json: '{"saved": true}'}
            ResponseParameters: {method.response.header.X-Saved: "'yes'"}
          - SelectionPattern: "4\\\\d{2}"
            StatusCode: 409
            ResponseTemplates: {application/json: '{"refused": $input.json(''$.reason'')}'}
  Ping:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses:
          - StatusCode: 200
            ResponseParameters: {method.response.header.X-Mock: "'1'"}
            ResponseTemplates: {application/json: '{"pong": true}'}
  TokenAuth:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Api
      Name: token
      Type: TOKEN
      IdentitySource: method.request.header.X-Token
      IdentityValidationExpression: "^Bearer .+$"
      AuthorizerResultTtlInSeconds: 60
      AuthorizerUri: !Sub >-
        arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Auth.Arn}/invocations
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [GetItem, AnyFile, PostNote, Ping]
    Properties: {RestApiId: !Ref Api}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: v1
      Variables: {color: blue}
"""


def model(tmp_path, resources):
    (tmp_path / "src").mkdir(exist_ok=True)
    text = HEAD + textwrap.indent(textwrap.dedent(resources), "  ")
    return build_stage_model(load_yaml(text), tmp_path)


@pytest.fixture
def api(tmp_path):
    [api] = model(tmp_path, TREE).proxy_apis
    return api


def route(api, method, path):
    return next(r for r in api.routes if (r.method, r.path) == (method, path))


def test_resources_nest_into_paths_from_the_root(api):
    assert sorted((r.method, r.path) for r in api.routes) == [
        ("ANY", "/{proxy+}"),
        ("GET", "/"),
        ("GET", "/items/{id}"),
        ("POST", "/items/{id}/notes"),
    ]


def test_the_stage_resource_names_the_stage_and_its_variables(api):
    assert (api.kind, api.stage_name, dict(api.stage_variables)) == (
        "REST",
        "v1",
        {"color": "blue"},
    )


def test_a_lambda_proxy_method_invokes_its_function_with_payload_1_0(api):
    get = route(api, "GET", "/items/{id}")
    assert (get.function, get.payload_format, get.timeout_s, get.integration) == (
        "Fn",
        "1.0",
        5.0,
        None,
    )


def test_an_any_method_with_a_greedy_path_is_an_http_proxy(api):
    proxy = route(api, "ANY", "/{proxy+}")
    assert proxy.integration is not None
    assert (proxy.integration.kind, proxy.integration.uri, proxy.integration.method) == (
        "HTTP_PROXY",
        "http://127.0.0.1:9/{proxy}",
        "ANY",
    )


def test_a_custom_authorization_names_the_authorizer_resource(api):
    assert route(api, "ANY", "/{proxy+}").authorizer == "TokenAuth"
    authorizer = api.authorizers["TokenAuth"]
    assert (
        authorizer.kind,
        authorizer.function,
        authorizer.identity_sources,
        authorizer.ttl_s,
        authorizer.validation_expression,
    ) == ("TOKEN", "Auth", ("method.request.header.X-Token",), 60, "^Bearer .+$")


def test_an_http_method_keeps_its_template_parameters_and_integration_responses(api):
    integration = route(api, "POST", "/items/{id}/notes").integration
    assert integration is not None
    assert (integration.kind, integration.method, integration.passthrough) == (
        "HTTP",
        "PUT",
        "NEVER",
    )
    assert integration.logical_id == "PostNote"
    assert dict(integration.request_parameters) == {
        "integration.request.path.id": "method.request.path.id"
    }
    assert dict(integration.request_templates) == {
        "application/json": """{"text": $input.json('$.text')}"""
    }
    assert integration.responses == (
        IntegrationResponseModel(
            key="$default",
            templates={"application/json": '{"saved": true}'},
            status=201,
            parameters={"method.response.header.X-Saved": "'yes'"},
        ),
        IntegrationResponseModel(
            key="4\\d{2}",
            templates={"application/json": """{"refused": $input.json('$.reason')}"""},
            status=409,
        ),
    )


def test_a_mock_method_on_the_root_answers_its_default_response(api):
    ping = route(api, "GET", "/")
    assert ping.mock is not None
    assert (ping.mock.status, dict(ping.mock.headers), ping.mock.body) == (
        200,
        {"X-Mock": "1"},
        '{"pong": true}',
    )


def test_a_mock_with_velocity_is_an_integration_rendered_per_request(tmp_path):
    [api] = model(
        tmp_path,
        TREE.replace("""'{"pong": true}'""", """'{"stage": "$context.stage"}'"""),
    ).proxy_apis
    ping = route(api, "GET", "/")
    assert ping.mock is None and ping.integration is not None
    assert (ping.integration.kind, ping.integration.responses[0].status) == ("MOCK", 200)


def test_the_resources_are_not_listed_as_not_emulated(tmp_path):
    stage = model(tmp_path, TREE)
    assert stage.not_emulated == ()


def test_a_cognito_method_keeps_its_scopes(tmp_path):
    [api] = model(
        tmp_path,
        TREE
        + """
  Pool:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Api
      Name: pool
      Type: COGNITO_USER_POOLS
      IdentitySource: method.request.header.Authorization
      ProviderARNs: [arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_x]
  DeleteItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Item
      HttpMethod: DELETE
      AuthorizationType: COGNITO_USER_POOLS
      AuthorizerId: !Ref Pool
      AuthorizationScopes: [items/delete]
      Integration: {Type: MOCK, IntegrationResponses: [{StatusCode: 204}]}
""",
    ).proxy_apis
    delete = route(api, "DELETE", "/items/{id}")
    assert (delete.authorizer, delete.scopes, api.authorizers["Pool"].kind) == (
        "Pool",
        ("items/delete",),
        "COGNITO",
    )


def test_an_iam_method_is_served_open_and_said(tmp_path):
    stage = model(tmp_path, TREE.replace("AuthorizationType: CUSTOM", "AuthorizationType: AWS_IAM"))
    [api] = stage.proxy_apis
    assert route(api, "ANY", "/{proxy+}").authorizer is None
    assert any("AnyFile" in line and "AWS_IAM" in line for line in stage.not_emulated)


def test_without_a_stage_resource_the_deployments_stage_name_is_the_stage(tmp_path):
    tree = TREE.split("  Stage:\n")[0].replace(
        "Properties: {RestApiId: !Ref Api}",
        "Properties: {RestApiId: !Ref Api, StageName: dev,"
        " StageDescription: {Variables: {debug: true}}}",
    )
    [api] = model(tmp_path, tree).proxy_apis
    assert (api.stage_name, dict(api.stage_variables)) == ("dev", {"debug": "true"})


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("ParentId: !Ref Items", "ParentId: nothing-here"), "Item.ParentId"),
        (("ParentId: !Ref Items", "ParentId: !Ref Missing"), "Item.ParentId"),
        (("ParentId: !Ref Items", "ParentId: !Ref Notes"), "Notes.ParentId"),
        (("ResourceId: !Ref Item\n", "ResourceId: !Ref Fn\n"), "GetItem.ResourceId"),
        (("ResourceId: !Ref Item\n", "ResourceId: !Ref Gone\n"), "GetItem.ResourceId"),
        (("PathPart: notes", "PathPart: a/b"), "Notes.PathPart"),
        (("      HttpMethod: POST", "      HttpMethod: FETCH"), "PostNote.HttpMethod"),
        (("Type: HTTP\n", "Type: VPC_LINK\n"), "PostNote.Integration.Type"),
        (("PassthroughBehavior: NEVER", "PassthroughBehavior: SOMETIMES"),
         "PostNote.Integration.PassthroughBehavior"),
        (("TimeoutInMillis: 5000", "TimeoutInMillis: soon"),
         "GetItem.Integration.TimeoutInMillis"),
        (("${Fn.Arn}", "arn:aws:lambda:us-east-1:1:function:Nope"), "GetItem.Integration.Uri"),
        (("- SelectionPattern", "- Selection"), "PostNote.Integration.IntegrationResponses"),
        (("AuthorizerId: !Ref TokenAuth", "AuthorizerId: abc"), "AnyFile.AuthorizerId"),
        (("AuthorizationType: CUSTOM", "AuthorizationType: COGNITO_USER_POOLS"),
         "AnyFile.AuthorizerId"),
        (("Type: TOKEN", "Type: SAML"), "TokenAuth.Type"),
    ],
)  # fmt: skip
def test_a_malformed_rest_resource_names_the_resource_and_property(tmp_path, change, where):
    old, new = change
    assert old in TREE
    with pytest.raises(TemplateError) as error:
        model(tmp_path, TREE.replace(old, new, 1))
    assert str(error.value).startswith(f"{where}: "), str(error.value)


def test_a_method_without_an_integration_is_refused(tmp_path):
    tree = TREE.replace(
        """      AuthorizationType: NONE
      Integration:
        Type: MOCK""",
        """      AuthorizationType: NONE
      MockIntegration:
        Type: MOCK""",
    )
    with pytest.raises(TemplateError, match=r"^Ping\.Integration: is required"):
        model(tmp_path, tree)


def test_a_loop_of_resources_is_refused_naming_its_members(tmp_path):
    with pytest.raises(TemplateError, match=r"makes a loop \(Item -> Notes -> Item\)"):
        model(tmp_path, TREE.replace("ParentId: !Ref Items", "ParentId: !Ref Notes"))


def test_render_template_finds_a_methods_templates_by_its_logical_id(tmp_path):
    found = find_request_templates(model(tmp_path, TREE), None, "PostNote", None)
    assert (found.route, found.api, list(found.templates)) == (
        "POST /items/{id}/notes",
        "Api",
        ["application/json"],
    )
