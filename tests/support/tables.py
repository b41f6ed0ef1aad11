"""The project's tables, built from template.yaml through the stage's own template loader,
so tests cannot drift from the template."""

from typing import Any

from tests.support.paths import ROOT, TEMPLATE
from wslocal.template import StageModel, build_stage_model, read_template


def chat_model() -> StageModel:
    return build_stage_model(read_template(TEMPLATE), ROOT)


def create_chat_tables(dynamodb_client: Any) -> dict[str, str]:
    """Create every table of the template; return logical id -> table name."""
    names = {}
    for table in chat_model().tables:
        dynamodb_client.create_table(**table.create_table)
        names[table.logical_id] = table.create_table["TableName"]
    return names


def local_table(endpoint: str, name: str) -> Any:
    """A boto3 Table of a local engine (dummy credentials), to look at what handlers wrote."""
    import boto3

    return boto3.resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="wslocal",
        aws_secret_access_key="wslocal",
    ).Table(name)
