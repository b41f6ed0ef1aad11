"""The template model: what of a SAM template the local stage serves.

Plain frozen data (the WebSocket API, its routes, the functions and their layers, the
tables, the event sources), built by ``wslocal.template.reader`` with every intrinsic
resolved to a local value. Nothing here touches a socket or starts a process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wslocal.defaults import DEFAULT_ACCOUNT_ID as DEFAULT_ACCOUNT_ID
from wslocal.defaults import DEFAULT_REGION as DEFAULT_REGION

DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_VISIBILITY_TIMEOUT_S = 30


@dataclass(frozen=True)
class FunctionModel:
    logical_id: str
    function_name: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: float
    memory_size: int
    environment: Mapping[str, str]
    layer_dirs: tuple[Path, ...]
    reserved_concurrency: int | None = None
    """``ReservedConcurrentExecutions``: calls beyond it are throttled, as Lambda does."""
    log_format: str = "Text"
    """``LoggingConfig: LogFormat``: ``JSON`` sets AWS_LAMBDA_LOG_FORMAT, as Lambda does."""
    log_level: str | None = None
    """``LoggingConfig: ApplicationLogLevel``: with JSON logs it sets AWS_LAMBDA_LOG_LEVEL,
    as Lambda does (which then filters at INFO unless told otherwise)."""
    build_method: str | None = None
    """``Metadata: BuildMethod`` (``esbuild`` bundles a Node function, as ``sam build``)."""
    build_properties: Mapping[str, Any] = field(default_factory=dict)
    """``Metadata: BuildProperties`` (esbuild's EntryPoints, Minify, Target, ...)."""

    @property
    def module(self) -> str:
        """The handler's module, importable with ``code_dir`` and the layers on sys.path."""
        return self.handler.rsplit(".", 1)[0].replace("/", ".")

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class AuthorizerModel:
    logical_id: str
    function: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class IntegrationResponseModel:
    """An ``AWS::ApiGatewayV2::IntegrationResponse``: what the backend's answer becomes."""

    key: str
    """``$default``, a status pattern ``/4\\d\\d/`` (HTTP), or an error-message regex
    (Lambda, ``/.*not found.*/``)."""
    templates: Mapping[str, str] = field(default_factory=dict)
    """``ResponseTemplates`` by selection key (REST: by content type)."""
    template_selection_expression: str | None = None
    status: int | None = None
    """REST: the method response's status this integration response answers with."""
    parameters: Mapping[str, str] = field(default_factory=dict)
    """REST: ``method.response.header.X`` -> ``integration.response.header.Y`` or
    ``'literal'``."""


@dataclass(frozen=True)
class IntegrationModel:
    """What a route calls, when it is not a Lambda proxy (``AWS_PROXY``) or SAM's static
    MOCK: WebSocket routes, and REST and HTTP API routes."""

    kind: str
    """``HTTP``, ``HTTP_PROXY``, ``MOCK`` or ``AWS`` (Lambda non-proxy, or a service action)."""
    uri: str = ""
    method: str = "POST"
    timeout_s: float = 29.0
    request_templates: Mapping[str, str] = field(default_factory=dict)
    template_selection_expression: str | None = None
    passthrough: str = "WHEN_NO_MATCH"
    request_parameters: Mapping[str, str] = field(default_factory=dict)
    """``integration.request.header.X`` (or ``querystring.``, ``path.``) -> its source:
    ``route.request.header.Y``, ``context.connectionId``, ``'literal'``."""
    responses: tuple[IntegrationResponseModel, ...] = ()
    function: str | None = None
    """A Lambda non-proxy integration's function (logical id)."""
    credentials: str | None = None
    """The role API Gateway would assume (accepted; the local engines do not check it)."""
    subtype: str | None = None
    """An HTTP API's first-class AWS integration (``SQS-SendMessage``); its fields are
    ``request_parameters`` (``QueueUrl``, ``MessageBody``, ...)."""
    logical_id: str = ""
    """Where the template declares it (the integration, the REST method or the API with
    the OpenAPI body): what ``render-template --integration`` names."""


@dataclass(frozen=True)
class RouteModel:
    route_key: str
    function: str | None
    """Logical id of the function the route's AWS_PROXY integration invokes; None when
    ``integration`` says what the route calls."""
    two_way: bool
    """True when the route has a route response: the integration's body goes back."""
    authorizer: AuthorizerModel | None = None
    integration: IntegrationModel | None = None
    """None: a Lambda proxy integration of ``function``."""

    @property
    def target(self) -> str:
        """What the route calls, for the banner and the logs."""
        if self.integration is None:
            return str(self.function)
        what = self.integration.function or self.integration.uri
        return f"{self.integration.kind} {what}".rstrip()


@dataclass(frozen=True)
class MockResponseModel:
    """What a MOCK integration answers (SAM's CORS preflight ``OPTIONS`` methods)."""

    status: int
    headers: Mapping[str, str]
    body: str = ""


@dataclass(frozen=True)
class ProxyAuthorizerModel:
    """An authorizer of a REST or HTTP API, from its OpenAPI security scheme."""

    name: str
    kind: str
    """``TOKEN`` or ``REQUEST`` (Lambda), ``COGNITO`` (REST), ``JWT`` (HTTP)."""
    function: str | None = None
    identity_sources: tuple[str, ...] = ()
    """As the template writes them: ``method.request.header.Authorization`` (REST),
    ``$request.header.Authorization`` (HTTP)."""
    ttl_s: int = 0
    """Results cached this long, by identity; 0: never."""
    payload_format: str = "1.0"
    simple_responses: bool = False
    validation_expression: str | None = None
    """A TOKEN authorizer's regular expression: a token that does not match is 401."""
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    user_pools: tuple[str, ...] = ()
    """A Cognito authorizer's user pool ARNs."""


@dataclass(frozen=True)
class ProxyRouteModel:
    """One method on one path of a REST or HTTP API, and what answers it."""

    method: str
    """Upper case, or ``ANY``."""
    path: str
    """The resource path as the template has it (``/items/{id}``, ``/{proxy+}``), or
    ``$default`` for an HTTP API's default route."""
    function: str | None
    """Logical id of the function the Lambda proxy integration invokes; None: a MOCK."""
    payload_format: str = "1.0"
    timeout_s: float = 29.0
    mock: MockResponseModel | None = None
    authorizer: str | None = None
    """Name of the API's authorizer that guards the route; None: open."""
    scopes: tuple[str, ...] = ()
    """The route's authorization scopes (HTTP's JWT, REST's Cognito): the token needs one
    of them."""
    integration: IntegrationModel | None = None
    """An HTTP, HTTP_PROXY or AWS integration (``function`` and ``mock`` are then None)."""

    @property
    def route_key(self) -> str:
        """``GET /items/{id}``, as an HTTP API names its routes."""
        return self.path if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class CorsModel:
    """An HTTP API's ``CorsConfiguration``: API Gateway answers preflights itself."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_s: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class ProxyApiModel:
    """A REST API (API Gateway v1) or an HTTP API (v2) with Lambda proxy integrations."""

    logical_id: str
    api_id: str
    kind: str
    """``REST`` or ``HTTP``."""
    stage_name: str
    """``Prod`` for SAM's implicit REST API; ``$default`` (not in the path) for HTTP's."""
    routes: tuple[ProxyRouteModel, ...]
    binary_media_types: tuple[str, ...] = ()
    cors: CorsModel | None = None
    authorizers: Mapping[str, ProxyAuthorizerModel] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    """The stage's variables (SAM's ``Variables``/``StageVariables``, a Stage resource's
    ``Variables``/``StageVariables``): ``stageVariables`` in events, ``$stageVariables``
    in mapping templates."""

    @property
    def stage_in_path(self) -> bool:
        return self.stage_name != "$default"


@dataclass(frozen=True)
class TableModel:
    logical_id: str
    create_table: Mapping[str, Any]
    """Keyword arguments of DynamoDB's CreateTable for this table."""
    ttl_attribute: str | None
    stream_view_type: str | None = None
    """KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES when the table has a stream."""

    @property
    def table_name(self) -> str:
        return str(self.create_table["TableName"])


@dataclass(frozen=True)
class OnFailureDestination:
    """Where Lambda sends the description of a batch it gave up on."""

    kind: str
    """``SQS`` or ``SNS``."""
    arn: str


@dataclass(frozen=True)
class DynamoDBStreamSourceModel:
    """A function's ``Events: Type: DynamoDB``: Lambda's event source mapping for it."""

    name: str
    """``<Function>.<EventName>``, as the banner and the logs name it."""
    function: str
    table: str
    """Logical id of the table whose stream is read."""
    stream_arn: str
    starting_position: str
    batch_size: int = 100
    batching_window_s: float = 0.0
    maximum_retry_attempts: int = -1
    """-1: retry until the record expires."""
    maximum_record_age_s: int = -1
    bisect_on_error: bool = False
    report_item_failures: bool = False
    enabled: bool = True
    on_failure: OnFailureDestination | None = None
    filters: tuple[str, ...] = ()
    """``FilterCriteria`` patterns (JSON text, checked): records none matches are
    dropped before batching."""
    not_emulated: tuple[str, ...] = ()
    """Properties of the mapping the stage reads but does not apply."""


@dataclass(frozen=True)
class QueueModel:
    """An ``AWS::SQS::Queue``: CreateQueue's name and attributes, and its dead-letter
    queue (SQS itself moves a message there after ``maxReceiveCount`` receives)."""

    logical_id: str
    queue_name: str
    attributes: Mapping[str, str]
    """CreateQueue attributes, strings as SQS takes them (RedrivePolicy as JSON)."""
    dead_letter_queue: str | None = None
    """Name of the queue the RedrivePolicy names."""
    max_receive_count: int | None = None

    @property
    def visibility_timeout_s(self) -> int:
        return int(self.attributes.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT_S))

    @property
    def fifo(self) -> bool:
        """A FIFO queue: a message group's messages are received in order, one batch of
        the group in flight at a time."""
        return self.attributes.get("FifoQueue") == "true" or self.queue_name.endswith(".fifo")


@dataclass(frozen=True)
class SqsSourceModel:
    """A function's ``Events: Type: SQS``: Lambda's event source mapping for a queue."""

    name: str
    function: str
    queue: str
    """Name of the queue read (a queue of this template)."""
    queue_arn: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    maximum_concurrency: int | None = None
    """``ScalingConfig.MaximumConcurrency``: most invocations at once (2 to 1000)."""
    report_item_failures: bool = False
    enabled: bool = True
    filters: tuple[str, ...] = ()
    """``FilterCriteria`` patterns (JSON text, checked): messages none matches are
    deleted from the queue without an invocation."""
    not_emulated: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageModel:
    api_logical_id: str | None
    """The WebSocket API served; None when the template has none."""
    api_id: str | None
    stage_name: str | None
    """The ``StageName`` of the API's ``AWS::ApiGatewayV2::Stage``; None when it has none."""
    route_selection_expression: str
    routes: Mapping[str, RouteModel]
    functions: Mapping[str, FunctionModel]
    tables: tuple[TableModel, ...]
    region: str
    account_id: str
    not_emulated: tuple[str, ...] = field(default=())
    """One line per resource the stage skips, for the start-up banner."""
    warnings: tuple[str, ...] = field(default=())
    stream_sources: tuple[DynamoDBStreamSourceModel, ...] = field(default=())
    queues: tuple[QueueModel, ...] = field(default=())
    queue_sources: tuple[SqsSourceModel, ...] = field(default=())
    proxy_apis: tuple[ProxyApiModel, ...] = field(default=())
    """The template's REST and HTTP APIs, served beside the WebSocket API."""

    def table(self, logical_id: str) -> TableModel:
        return next(table for table in self.tables if table.logical_id == logical_id)

    def queue(self, name: str) -> QueueModel:
        return next(queue for queue in self.queues if queue.queue_name == name)
