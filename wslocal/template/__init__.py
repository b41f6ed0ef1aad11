"""The template model: what of a SAM template the local stage serves, read without
touching a socket or starting a process."""

from wslocal.template.model import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    AuthorizerModel,
    CorsModel,
    DynamoDBStreamSourceModel,
    FunctionModel,
    IntegrationModel,
    IntegrationResponseModel,
    MockResponseModel,
    OnFailureDestination,
    ProxyApiModel,
    ProxyAuthorizerModel,
    ProxyRouteModel,
    QueueModel,
    RouteModel,
    SqsSourceModel,
    StageModel,
    TableModel,
)
from wslocal.template.reader import api_id_for, build_stage_model, read_template

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "AuthorizerModel",
    "CorsModel",
    "DynamoDBStreamSourceModel",
    "FunctionModel",
    "IntegrationModel",
    "IntegrationResponseModel",
    "MockResponseModel",
    "OnFailureDestination",
    "ProxyApiModel",
    "ProxyAuthorizerModel",
    "ProxyRouteModel",
    "QueueModel",
    "RouteModel",
    "SqsSourceModel",
    "StageModel",
    "TableModel",
    "api_id_for",
    "build_stage_model",
    "read_template",
]
