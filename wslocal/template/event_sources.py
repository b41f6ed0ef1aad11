"""Event sources: a function's ``Events`` of ``Type: DynamoDB`` become stream sources and
of ``Type: SQS`` queue sources, with Lambda's defaults and its validation; other event
types are listed as not emulated."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from wslocal.eventsources.filtering import SQS_DATA_KEY, STREAM_DATA_KEY, compile_filters
from wslocal.exceptions import FilterPatternError, TemplateError
from wslocal.template.intrinsics import Resolver
from wslocal.template.model import (
    DynamoDBStreamSourceModel,
    OnFailureDestination,
    QueueModel,
    SqsSourceModel,
    TableModel,
)
from wslocal.template.shapes import reading
from wslocal.template.translation import API_EVENTS

_TABLE_OF_STREAM = re.compile(r":table/([^/]+)/stream/")
_IGNORED_STREAM_PROPERTIES = ("ParallelizationFactor", "TumblingWindowInSeconds", "MetricsConfig")
_IGNORED_QUEUE_PROPERTIES = ("MetricsConfig", "ProvisionedPollerConfig")
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
SQS_DEFAULT_BATCH_SIZE = 10
SQS_LARGEST_BATCH = 10_000
FIFO_LARGEST_BATCH = 10


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).lower() == "true"


def _number(value: Any, default: float, where: str, prop: str) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{value!r} is not a number", where, prop) from None


def _destination(config: Any, where: str) -> OnFailureDestination | None:
    on_failure = (config or {}).get("OnFailure") or {}
    arn = on_failure.get("Destination")
    if not arn:
        return None
    kind = on_failure.get("Type") or str(arn).split(":")[2].upper()
    if kind not in ("SQS", "SNS"):
        raise TemplateError(
            f"an on-failure destination of a stream is SQS or SNS, not {kind!r}",
            where,
            "DestinationConfig",
        )
    return OnFailureDestination(kind=kind, arn=str(arn))


def _filters(criteria: Any, where: str, data_key: str) -> tuple[str, ...]:
    """``FilterCriteria.Filters[].Pattern``, checked as Lambda checks them when the
    mapping is created: a pattern it would refuse is an error at start."""
    if criteria is None:
        return ()
    filters = criteria.get("Filters") if isinstance(criteria, Mapping) else None
    if filters is None and isinstance(criteria, Mapping) and not criteria:
        return ()  # FilterCriteria: {} (no filter), as UpdateEventSourceMapping takes it
    if not isinstance(filters, list) or not all(
        isinstance(item, Mapping) and "Pattern" in item for item in filters
    ):
        raise TemplateError(
            "must be {Filters: [{Pattern: '<JSON>'}, ...]}", where, "FilterCriteria"
        )
    patterns = tuple(item["Pattern"] for item in filters)
    try:
        compile_filters(patterns, data_key)
    except FilterPatternError as exc:
        raise TemplateError(str(exc), where, "FilterCriteria") from None
    return patterns


def _stream_source(
    name: str,
    function: str,
    properties: Mapping[str, Any],
    tables_by_name: Mapping[str, TableModel],
) -> DynamoDBStreamSourceModel:
    stream_arn = str(properties.get("Stream", ""))
    match = _TABLE_OF_STREAM.search(stream_arn)
    table = tables_by_name.get(match.group(1)) if match else None
    if table is None:
        raise TemplateError(
            f"{stream_arn!r} is not the stream of a table in this template", name, "Stream"
        )
    if table.stream_view_type is None:
        raise TemplateError(
            f"reads the stream of {table.logical_id}, which has no StreamSpecification",
            name,
            "Stream",
        )
    position = properties.get("StartingPosition")
    if position not in STARTING_POSITIONS:
        raise TemplateError(
            f"must be one of {', '.join(STARTING_POSITIONS)}, not {position!r}",
            name,
            "StartingPosition",
        )
    return DynamoDBStreamSourceModel(
        name=name,
        function=function,
        table=table.logical_id,
        stream_arn=stream_arn,
        starting_position=str(position),
        batch_size=int(_number(properties.get("BatchSize"), 100, name, "BatchSize")),
        batching_window_s=_number(
            properties.get("MaximumBatchingWindowInSeconds"), 0, name, "MaximumBatchingWindow"
        ),
        maximum_retry_attempts=int(
            _number(properties.get("MaximumRetryAttempts"), -1, name, "MaximumRetryAttempts")
        ),
        maximum_record_age_s=int(
            _number(
                properties.get("MaximumRecordAgeInSeconds"), -1, name, "MaximumRecordAgeInSeconds"
            )
        ),
        bisect_on_error=_flag(properties.get("BisectBatchOnFunctionError"), False),
        report_item_failures="ReportBatchItemFailures"
        in (properties.get("FunctionResponseTypes") or ()),
        enabled=_flag(properties.get("Enabled"), True),
        on_failure=_destination(properties.get("DestinationConfig"), name),
        filters=_filters(properties.get("FilterCriteria"), name, STREAM_DATA_KEY),
        not_emulated=tuple(key for key in _IGNORED_STREAM_PROPERTIES if key in properties),
    )


def _queue_source(
    name: str,
    function: str,
    properties: Mapping[str, Any],
    queues_by_name: Mapping[str, QueueModel],
) -> SqsSourceModel:
    """Lambda's rules for an SQS mapping: batches of 1 to 10,000 (10 for FIFO), more than
    10 only with a batching window, MaximumConcurrency 2 to 1000."""
    queue_arn = str(properties.get("Queue", ""))
    queue = (
        queues_by_name.get(queue_arn.rsplit(":", 1)[-1]) if queue_arn.startswith("arn:") else None
    )
    if queue is None:
        raise TemplateError(
            f"{queue_arn!r} is not the Arn of a queue in this template", name, "Queue"
        )
    fifo = queue.attributes.get("FifoQueue") == "true"
    batch_size = int(
        _number(properties.get("BatchSize"), SQS_DEFAULT_BATCH_SIZE, name, "BatchSize")
    )
    window = _number(
        properties.get("MaximumBatchingWindowInSeconds"), 0, name, "MaximumBatchingWindowInSeconds"
    )
    largest = FIFO_LARGEST_BATCH if fifo else SQS_LARGEST_BATCH
    if not 1 <= batch_size <= largest:
        raise TemplateError(f"must be 1 to {largest}, not {batch_size}", name, "BatchSize")
    if batch_size > SQS_DEFAULT_BATCH_SIZE and window < 1:
        raise TemplateError(
            "a batch of more than 10 needs MaximumBatchingWindowInSeconds of 1 or more",
            name,
            "BatchSize",
        )
    concurrency = (properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if concurrency is not None:
        concurrency = int(_number(concurrency, 0, name, "ScalingConfig"))
        if not 2 <= concurrency <= 1000:
            raise TemplateError(
                f"MaximumConcurrency must be 2 to 1000, not {concurrency}", name, "ScalingConfig"
            )
    return SqsSourceModel(
        name=name,
        function=function,
        queue=queue.queue_name,
        queue_arn=queue_arn,
        batch_size=batch_size,
        batching_window_s=window,
        maximum_concurrency=concurrency,
        report_item_failures="ReportBatchItemFailures"
        in (properties.get("FunctionResponseTypes") or ()),
        enabled=_flag(properties.get("Enabled"), True),
        filters=_filters(properties.get("FilterCriteria"), name, SQS_DATA_KEY),
        not_emulated=tuple(key for key in _IGNORED_QUEUE_PROPERTIES if key in properties),
    )


def event_sources(
    functions: Mapping[str, Mapping[str, Any]],
    tables: Iterable[TableModel],
    queues: Iterable[QueueModel],
    resolver: Resolver,
) -> tuple[list[DynamoDBStreamSourceModel], list[SqsSourceModel], list[str]]:
    """The stream and queue sources of ``functions`` (logical id -> resource), and one
    line for each event the stage does not run."""
    tables_by_name = {table.table_name: table for table in tables}
    queues_by_name = {queue.queue_name: queue for queue in queues}
    streams: list[DynamoDBStreamSourceModel] = []
    queue_sources: list[SqsSourceModel] = []
    skipped: list[str] = []
    for function, resource in functions.items():
        for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            with reading(f"{function}.Events.{event_name}"):
                name = f"{function}.{event_name}"
                kind = event.get("Type")
                if kind in API_EVENTS:
                    continue  # served by its REST or HTTP API, as translated
                if kind not in ("DynamoDB", "SQS"):
                    skipped.append(f"{name} ({kind} event) is not emulated")
                    continue
                properties = resolver.resolve(event.get("Properties") or {}, name)
                if kind == "SQS":
                    queue_sources.append(_queue_source(name, function, properties, queues_by_name))
                else:
                    streams.append(_stream_source(name, function, properties, tables_by_name))
    return streams, queue_sources, skipped
