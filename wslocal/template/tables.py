"""Tables: CreateTable arguments (keys, indexes, stream) and TTL from the template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wslocal.exceptions import TemplateError
from wslocal.template.intrinsics import Resolver
from wslocal.template.model import TableModel

STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


def table_model(
    logical_id: str, resource: Mapping[str, Any], resolver: Resolver, refs: Mapping[str, Any]
) -> TableModel:
    properties = resolver.resolve(resource.get("Properties") or {}, logical_id)
    if resource.get("Type") == "AWS::Serverless::SimpleTable":
        key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        return TableModel(
            logical_id=logical_id,
            create_table={
                "TableName": refs[logical_id],
                "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
                "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
            ttl_attribute=None,
        )
    billing = properties.get("BillingMode", "PROVISIONED")
    create: dict[str, Any] = {
        "TableName": refs[logical_id],
        "AttributeDefinitions": properties.get("AttributeDefinitions"),
        "KeySchema": properties.get("KeySchema"),
        "BillingMode": billing,
    }
    throughput = properties.get("ProvisionedThroughput") or {
        "ReadCapacityUnits": 5,
        "WriteCapacityUnits": 5,
    }
    if billing == "PROVISIONED":
        create["ProvisionedThroughput"] = _capacity(throughput)
    for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        # Only a provisioned table's global indexes carry their own throughput.
        own_capacity = billing == "PROVISIONED" and indexes == "GlobalSecondaryIndexes"
        if properties.get(indexes):
            create[indexes] = [
                _index(index, throughput if own_capacity else None) for index in properties[indexes]
            ]
    if not create["AttributeDefinitions"] or not create["KeySchema"]:
        raise TemplateError("needs AttributeDefinitions and KeySchema", logical_id, "KeySchema")
    ttl = properties.get("TimeToLiveSpecification") or {}
    view_type = (properties.get("StreamSpecification") or {}).get("StreamViewType")
    if view_type is not None:
        if view_type not in STREAM_VIEW_TYPES:
            raise TemplateError(
                f"{view_type!r} is not one of {', '.join(STREAM_VIEW_TYPES)}",
                logical_id,
                "StreamSpecification",
            )
        create["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
    return TableModel(
        logical_id=logical_id,
        create_table=create,
        ttl_attribute=ttl.get("AttributeName")
        if str(ttl.get("Enabled")).lower() == "true"
        else None,
        stream_view_type=view_type,
    )


def _index(index: Mapping[str, Any], table_throughput: Mapping[str, Any] | None) -> dict[str, Any]:
    """A CreateTable index from a template index; with the throughput when it needs one."""
    made = {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
    if table_throughput is not None:
        made["ProvisionedThroughput"] = _capacity(
            index.get("ProvisionedThroughput", table_throughput)
        )
    return made


def _capacity(throughput: Mapping[str, Any]) -> dict[str, int]:
    return {
        "ReadCapacityUnits": int(throughput.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(throughput.get("WriteCapacityUnits", 5)),
    }
