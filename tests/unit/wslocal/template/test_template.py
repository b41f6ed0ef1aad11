import textwrap
from pathlib import Path

import pytest

from wslocal.exceptions import TemplateError
from wslocal.template import api_id_for, build_stage_model
from wslocal.template.intrinsics import load_yaml

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  TableName:
    Type: String
    Default: echo-items
  Greeting:
    Type: String
    Default: hello
  Env:
    Type: String
    Default: dev
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 7
    CodeUri: src/
    Layers: [!Ref SharedLayer]
    Environment:
      Variables:
        TABLE: !Ref Items
        GREETING: !Sub "${Greeting}, ${AWS::Region}"
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: echo
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: "${request.body.op}"
  RestApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
  Queue:
    Type: AWS::SQS::Queue
  EchoRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: echo
      Target: !Join ["/", ["integrations", !Ref EchoIntegration]]
  EchoIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Join
        - ""
        - - "arn:"
          - !Ref AWS::Partition
          - ":apigateway:"
          - !Ref AWS::Region
          - ":lambda:path/2015-03-31/functions/"
          - !GetAtt EchoFunction.Arn
          - /invocations
  EchoResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Api
      RouteId: !Ref EchoRoute
      RouteResponseKey: $default
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: dev
      AutoDeploy: true
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-echo"
      Handler: handlers/echo.main
      MemorySize: !If [IsProd, 1024, 512]
      Policies:
        - AWSLambdaBasicExecutionRole
        - SQSSendMessagePolicy:
            QueueName: !GetAtt Queue.QueueName
      Environment:
        Variables:
          GREETING: overridden
          DEBUG: true
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
    Metadata:
      BuildMethod: python3.12
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Ref TableName
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: g, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: g-index
          KeySchema: [{AttributeName: g, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
  Simple:
    Type: AWS::Serverless::SimpleTable
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src" / "handlers").mkdir(parents=True)
    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path


def model(project: Path, text: str | None = None, **kwargs):
    document = load_yaml(textwrap.dedent(text) if text else (project / "template.yaml").read_text())
    return build_stage_model(document, project, **kwargs)


def test_api_and_its_selection_expression_are_read(project):
    stage = model(project)
    assert stage.api_logical_id == "Api"
    assert stage.api_id == api_id_for("Api") and len(stage.api_id) == 10
    assert stage.route_selection_expression == "${request.body.op}"


def test_route_resolves_through_a_join_integration_uri_to_its_function(project):
    route = model(project).routes["echo"]
    assert (route.function, route.two_way, route.authorizer) == ("EchoFunction", True, None)


def test_function_merges_globals_the_sam_way(project):
    function = model(project, stack_name="demo").functions["EchoFunction"]
    assert function.function_name == "demo-echo"
    assert function.code_dir == (project / "src").resolve()
    assert (function.module, function.attribute) == ("handlers.echo", "main")
    assert (function.runtime, function.timeout, function.memory_size) == ("python3.12", 7.0, 512)
    assert function.environment == {
        "TABLE": "echo-items",
        "GREETING": "overridden",
        "DEBUG": "true",
    }


def test_sub_with_pseudo_parameters_and_parameter_overrides(project):
    function = model(project, parameter_overrides={"TableName": "mine", "Env": "prod"}).functions[
        "EchoFunction"
    ]
    assert function.environment["TABLE"] == "mine"
    assert function.memory_size == 1024


def test_layer_content_and_its_python_folder_go_on_the_path(project):
    function = model(project).functions["EchoFunction"]
    assert function.layer_dirs == (
        (project / "layer").resolve(),
        (project / "layer" / "python").resolve(),
    )


def test_tables_become_create_table_requests(project):
    tables = {t.logical_id: t for t in model(project).tables}
    items = tables["Items"]
    assert items.create_table["TableName"] == "echo-items"
    assert items.create_table["GlobalSecondaryIndexes"][0]["IndexName"] == "g-index"
    assert items.ttl_attribute == "expires"
    simple = tables["Simple"].create_table
    assert simple["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_other_resources_are_listed_as_not_emulated_but_queues_are_served(project):
    text = TEMPLATE + "  Topic:\n    Type: AWS::SNS::Topic\n"
    lines = model(project, text).not_emulated
    assert any("Topic (AWS::SNS::Topic) is not emulated" in line for line in lines)
    assert not any("Queue (AWS::SQS::Queue)" in line for line in lines)
    assert not any("EchoFunction" in line for line in lines)


def test_a_serverless_rest_api_beside_the_websocket_api_is_served(project):
    [rest] = model(project).proxy_apis
    assert (rest.logical_id, rest.kind, rest.stage_name) == ("RestApi", "REST", "prod")


def test_a_layer_not_in_the_template_is_a_warning(project):
    text = TEMPLATE.replace(
        "Layers: [!Ref SharedLayer]",
        "Layers: [arn:aws:lambda:us-east-1:017000801446:layer:Powertools:1]",
    )
    stage = model(project, text)
    assert stage.functions["EchoFunction"].layer_dirs == ()
    assert "Powertools" in stage.warnings[0]


def test_a_parameter_without_default_must_be_overridden(project):
    text = TEMPLATE.replace("    Default: hello\n", "")
    with pytest.raises(TemplateError, match=r"Greeting\.Default"):
        model(project, text)
    assert model(project, text, parameter_overrides={"Greeting": "hi"})


def test_unknown_parameter_overrides_are_refused(project):
    with pytest.raises(TemplateError, match="Nope"):
        model(project, parameter_overrides={"Nope": "1"})


def test_a_template_without_a_websocket_api_is_served_all_the_same(project):
    stage = model(project, "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    assert (stage.api_logical_id, stage.routes, stage.queues[0].logical_id) == (None, {}, "Q")


def test_an_unknown_integration_type_names_the_resource_and_property(project):
    text = TEMPLATE.replace("IntegrationType: AWS_PROXY", "IntegrationType: VPC_LINK")
    with pytest.raises(TemplateError, match=r"EchoIntegration\.IntegrationType"):
        model(project, text)


def test_a_missing_code_folder_names_the_resource_and_property(project):
    text = TEMPLATE.replace("CodeUri: src/", "CodeUri: nowhere/")
    with pytest.raises(TemplateError, match=r"EchoFunction\.CodeUri"):
        model(project, text)


def test_a_runtime_neither_python_nor_node_is_refused(project):
    text = TEMPLATE.replace("Runtime: python3.12", "Runtime: java21")
    with pytest.raises(TemplateError, match=r"EchoFunction\.Runtime: .*neither Python nor Node"):
        model(project, text)


def test_a_node_runtime_is_served(project):
    text = TEMPLATE.replace("Runtime: python3.12", "Runtime: nodejs20.x")
    assert model(project, text).functions["EchoFunction"].runtime == "nodejs20.x"


def test_a_functions_log_format_is_read_from_its_logging_config(project):
    text = TEMPLATE.replace(
        "Runtime: python3.12", "Runtime: nodejs20.x\n    LoggingConfig: {LogFormat: JSON}"
    )
    assert model(project, text).functions["EchoFunction"].log_format == "JSON"


def test_a_functions_application_log_level_is_read_from_its_logging_config(project):
    config = "LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: WARN}"
    text = TEMPLATE.replace("Runtime: python3.12", f"Runtime: nodejs20.x\n    {config}")
    assert model(project, text).functions["EchoFunction"].log_level == "WARN"


def test_an_esbuild_functions_build_method_and_properties_are_read(project):
    text = """
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Major: {Type: String, Default: "20"}
    Resources:
      TsFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/
          Handler: app.handler
          Runtime: nodejs22.x
        Metadata:
          BuildMethod: esbuild
          BuildProperties:
            EntryPoints: [app.ts]
            Minify: false
            Target: !Sub "node${Major}"
    """
    function = model(project, text, parameter_overrides={"Major": "22"}).functions["TsFunction"]
    assert function.build_method == "esbuild"
    assert function.build_properties == {
        "EntryPoints": ["app.ts"],
        "Minify": False,
        "Target": "node22",
    }


def test_a_custom_authorizer_on_connect_is_read(project):
    text = TEMPLATE + textwrap.indent(
        textwrap.dedent(
            """
            ConnectRoute:
              Type: AWS::ApiGatewayV2::Route
              Properties:
                ApiId: !Ref Api
                RouteKey: $connect
                AuthorizationType: CUSTOM
                AuthorizerId: !Ref Auth
                Target: !Sub integrations/${EchoIntegration}
            Auth:
              Type: AWS::ApiGatewayV2::Authorizer
              Properties:
                ApiId: !Ref Api
                AuthorizerType: REQUEST
                Name: auth
                IdentitySource: [route.request.querystring.token]
                AuthorizerUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/\\
                  2015-03-31/functions/${EchoFunction.Arn}/invocations"
            """
        ),
        "  ",
    )
    route = model(project, text).routes["$connect"]
    assert route.authorizer is not None
    assert route.authorizer.function == "EchoFunction"
    assert route.authorizer.identity_sources == ("route.request.querystring.token",)


def test_the_projects_own_template_is_served():
    from tests.support.tables import chat_model

    stage = chat_model()
    assert set(stage.routes) == {"$connect", "$disconnect", "$default", "sendMessage", "history"}
    assert {k for k, r in stage.routes.items() if r.two_way} == {"$default", "history"}
    assert stage.functions["SendMessageFunction"].layer_dirs[0].name == "chatroom"
    assert stage.not_emulated == ()
    assert "PresenceFailuresQueue" in {queue.queue_name for queue in stage.queues}
    assert {(source.function, source.table) for source in stage.stream_sources} == {
        ("PresenceFunction", "ConnectionsTable"),
        ("DeliveryWatchFunction", "MessagesTable"),
    }


def test_env_vars_override_what_the_template_declares_as_sam_does():
    from tests.support.tables import chat_model
    from wslocal.template.functions import override_environment

    model, warnings = override_environment(
        chat_model(),
        {
            "Parameters": {"MESSAGE_MAX_BYTES": "100"},
            "SendMessageFunction": {"MESSAGE_MAX_BYTES": "200", "NOT_DECLARED": "x"},
        },
    )
    assert model.functions["SendMessageFunction"].environment["MESSAGE_MAX_BYTES"] == "200"
    assert model.functions["HistoryFunction"].environment["MESSAGE_MAX_BYTES"] == "100"
    assert "NOT_DECLARED" not in model.functions["SendMessageFunction"].environment
    assert any("NOT_DECLARED" in warning for warning in warnings)


def test_env_vars_that_are_not_sams_shape_are_refused():
    from tests.support.tables import chat_model
    from wslocal.template.functions import override_environment

    with pytest.raises(TemplateError, match="--env-vars"):
        override_environment(chat_model(), {"SendMessageFunction": "not a mapping"})


def test_the_stage_name_is_the_apis_stage_resources(project):
    assert model(project).stage_name == "dev"


def test_ref_of_a_stage_is_its_stage_name_as_cloudformation_gives_it(project):
    text = (project / "template.yaml").read_text()
    text = text.replace(
        "          DEBUG: true", "          DEBUG: true\n          STAGE: !Ref Stage"
    )
    (project / "template.yaml").write_text(text)
    assert model(project).functions["EchoFunction"].environment["STAGE"] == "dev"


def test_ref_of_a_route_or_integration_is_an_id_not_its_logical_id(project):
    text = (project / "template.yaml").read_text()
    text = text.replace(
        "          DEBUG: true",
        "          DEBUG: true\n"
        "          ROUTE: !Ref EchoRoute\n"
        "          TARGET: !Ref EchoIntegration",
    )
    (project / "template.yaml").write_text(text)
    environment = model(project).functions["EchoFunction"].environment
    assert len(environment["ROUTE"]) == 7 and environment["ROUTE"] != "EchoRoute"
    assert len(environment["TARGET"]) == 7 and environment["TARGET"] != environment["ROUTE"]


def test_routes_and_route_responses_are_joined_by_those_ids(project):
    assert model(project).routes["echo"].two_way is True


def test_an_api_without_a_stage_resource_has_no_stage_name(project):
    text = (project / "template.yaml").read_text()
    text = text.replace("      StageName: dev\n      AutoDeploy: true\n", "      StageName: dev\n")
    text = text.replace(
        "      ApiId: !Ref Api\n      StageName: dev\n",
        "      ApiId: other\n      StageName: dev\n",
    )
    (project / "template.yaml").write_text(text)
    assert model(project).stage_name is None
