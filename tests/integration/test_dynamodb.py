"""The DynamoDB engines the stage can run handlers against, with the template's tables."""

import contextlib
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.tables import chat_model
from wslocal.engines.dynamodb import JVM_OPTIONS, client, create_tables, start_engine

pytestmark = pytest.mark.integration


def item_count(engine, table: str) -> int:
    return client(engine.endpoint, "us-east-1", engine.credentials).scan(TableName=table)["Count"]


def put(engine, table: str) -> None:
    client(engine.endpoint, "us-east-1", engine.credentials).put_item(
        TableName=table,
        Item={"connectionId": {"S": "c1"}, "room": {"S": "lobby"}, "connectedAt": {"N": "1"}},
    )


def test_the_templates_tables_are_created_with_index_stream_and_ttl(dynamodb_local):
    model = chat_model()
    create_tables(dynamodb_local, model.tables, model.region)
    dynamodb = client(dynamodb_local.endpoint, "us-east-1")
    table = dynamodb.describe_table(TableName="ConnectionsTable")["Table"]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert sorted(indexes) == ["room-index", "sender-index"]
    assert indexes["room-index"]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["connectedAt", "name"],
    }
    assert indexes["sender-index"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    ttl = dynamodb.describe_time_to_live(TableName="MessagesTable")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "ttl"


def test_tables_that_exist_are_left_alone(dynamodb_local):
    model = chat_model()
    create_tables(dynamodb_local, model.tables, model.region)
    put(dynamodb_local, "ConnectionsTable")
    assert create_tables(dynamodb_local, model.tables, model.region) == []
    assert item_count(dynamodb_local, "ConnectionsTable") >= 1


def test_db_path_keeps_data_across_restarts(tmp_path):
    model = chat_model()
    for restart in range(2):
        with start_engine(region="us-east-1", search_from=ROOT, db_path=tmp_path) as engine:
            assert "DynamoDB Local" in engine.description
            made = create_tables(engine, model.tables, model.region)
            if restart == 0:
                assert len(made) == 2
                put(engine, "ConnectionsTable")
            else:
                assert made == []
                assert item_count(engine, "ConnectionsTable") == 1


def test_moto_serves_when_asked_or_when_java_is_missing():
    model = chat_model()
    with start_engine(region="us-east-1", search_from=ROOT, engine="moto") as engine:
        assert engine.description.startswith("moto")
        assert len(create_tables(engine, model.tables, model.region)) == 2
        put(engine, "ConnectionsTable")
        assert item_count(engine, "ConnectionsTable") == 1


def test_a_named_endpoint_is_used_as_it_is(dynamodb_local):
    with start_engine(
        region="us-east-1", search_from=ROOT, endpoint=dynamodb_local.endpoint
    ) as engine:
        assert engine.endpoint == dynamodb_local.endpoint
        assert engine.process is None


def test_dynamodb_locals_output_goes_to_a_file_and_a_death_is_reported_with_it():
    engine = start_engine(region="us-east-1", search_from=ROOT, engine="local")
    try:
        assert engine.process.stderr is None and engine.process.stdout is None
        assert engine.log is not None and engine.log.exists()
        assert engine.exit_report() is None
        engine.process.kill()
        engine.process.wait()
        report = engine.exit_report()
        assert report is not None and "exited with code -9" in report
        assert str(engine.log) in report
    finally:
        engine.stop()
    assert not engine.log.exists()


def java_command_line(pid: int) -> list[str]:
    """The command line of the JVM that ``pid`` is or started (through the lifeline)."""
    pending = [pid]
    while pending:
        current = pending.pop()
        if Path(f"/proc/{current}/exe").resolve().name == "java":
            return Path(f"/proc/{current}/cmdline").read_bytes().decode().split("\0")[:-1]
        with contextlib.suppress(FileNotFoundError):  # a process that ended meanwhile
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    raise AssertionError(f"no JVM in the process tree of {pid}")


def test_dynamodb_locals_jvm_runs_with_the_stages_compiler_and_gc_options(dynamodb_local):
    command = java_command_line(dynamodb_local.process.pid)
    assert command[1 : 1 + len(JVM_OPTIONS)] == list(JVM_OPTIONS)
