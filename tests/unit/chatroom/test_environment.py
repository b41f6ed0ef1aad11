"""The one place a function's clients and stores are wired from its variables."""

import json

from chatroom import budgets
from chatroom.environment import ChatEnvironment

ENVIRON = {"CONNECTIONS_TABLE": "ConnectionsTable", "MESSAGES_TABLE": "MessagesTable"}


def test_the_history_ttl_comes_from_the_environment(chat_tables):
    environment = ChatEnvironment.from_environment({**ENVIRON, "HISTORY_TTL_HOURS": "5"})
    message = environment.messages.append(room="r", sender="a", payload="p", sent_at_ms=0).message
    item = chat_tables.messages.get_item(Key={"room": "r", "messageId": message.message_id})
    assert item["Item"]["ttl"] == 5 * 3600


def test_without_a_queue_there_is_no_sharding(chat_tables):
    assert ChatEnvironment.from_environment(ENVIRON).queue is None


def test_the_steps_after_the_store_make_one_attempt_per_call(chat_tables):
    environment = ChatEnvironment.from_environment({**ENVIRON, "FANOUT_QUEUE_URL": "https://q"})
    retries = environment.connections._clean_up_client.meta.config.retries
    assert retries["total_max_attempts"] == 1
    assert environment.messages._mark_client.meta.config.read_timeout == budgets.AWS_READ_TIMEOUT_S


def test_the_rooms_read_is_retried_as_the_reads_before_the_store_are(chat_tables):
    environment = ChatEnvironment.from_environment(ENVIRON)
    config = environment.connections._raw_client.meta.config
    assert config.retries == budgets.BEFORE_THE_STORE.retries
    assert config.read_timeout == budgets.BEFORE_THE_STORE.read_timeout


def test_the_rooms_read_takes_scalar_items_as_answered(chat_tables):
    environment = ChatEnvironment.from_environment(ENVIRON)
    items = [{"connectionId": {"S": "c1"}}]
    answer = {"status_code": 200, "headers": {}, "body": json.dumps({"Items": items}).encode()}
    customized: dict = {}
    environment.connections._raw_client.meta.events.emit(
        "before-parse.dynamodb.Query", response_dict=answer, customized_response_dict=customized
    )
    assert customized == {"Items": items}


def test_the_reserve_covers_a_post_the_queueing_the_mark_and_the_clean_up():
    steps = (budgets.POST, budgets.QUEUE, budgets.MARK, budgets.CLEAN_UP)
    assert sum(step.budget_s for step in steps) <= budgets.RESERVE_S
    for step in steps:
        assert step.attempt_timeout_s <= step.budget_s


def test_the_clients_after_the_store_write_what_the_tables_read(chat_tables):
    from chatroom.connections import Connection
    from chatroom.messages import HANDED_OFF

    environment = ChatEnvironment.from_environment(ENVIRON)
    environment.connections.add(Connection("gone", "r", "n", 0, "1.2.3.4"))
    assert environment.connections.remove_many(["gone"]) == 1
    assert environment.connections.get("gone") is None
    stored = environment.messages.append(
        room="r", sender="a", payload="p", sent_at_ms=0, deliver_by_ms=1
    ).message
    assert environment.messages.mark(stored.room, stored.message_id, HANDED_OFF)
    assert environment.messages.get("r", stored.message_id).delivery == HANDED_OFF


def test_every_handler_gets_what_it_runs_from_the_environment_module_the_same_way():
    import ast

    from tests.support.paths import ROOT

    builders = {"chat_service", "presence_announcer", "shard_poster", "delivery_watch"}
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        if app.parent.name == "authorizer":  # no chat layer: it checks a token
            continue
        calls = [
            node.func
            for node in ast.walk(ast.parse(app.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        ]
        built = [
            f.attr
            for f in calls
            if isinstance(f.value, ast.Name) and f.value.id == "environment" and f.attr in builders
        ]
        assert len(built) == 1, app
        assert not any(f.attr == "from_environment" for f in calls), app


def test_the_management_api_clients_sign_with_the_functions_one_session(chat_tables):
    environment = ChatEnvironment.from_environment(ENVIRON)
    assert environment.clients._session is environment.session


def test_the_fan_out_package_imports_nothing_above_it():
    import ast

    from tests.support.paths import ROOT

    above = {"chatroom.delivery", "chatroom.service", "chatroom.environment"}
    above |= {"chatroom.shard_poster", "chatroom.presence"}
    for module in (ROOT / "layers/chatroom/chatroom/fanout").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in above, (module.name, node.module)


def test_a_function_makes_at_init_only_the_clients_every_call_of_its_route_uses(chat_tables):
    from chatroom.environment import EVERY_CALL_USES, AwsClients, default_session

    clients = AwsClients(default_session(), ENVIRON, EVERY_CALL_USES["$connect"])
    assert set(vars(clients)) - {"session", "_environ"} == {"dynamodb"}


def test_the_other_clients_are_made_when_first_used(chat_tables):
    environment = ChatEnvironment.from_environment({**ENVIRON, "FANOUT_QUEUE_URL": "https://q"})
    sqs = environment.queue._sqs
    assert "_made" not in vars(sqs)
    assert sqs.meta.service_model.service_name == "sqs"
    assert "_made" in vars(sqs)


def test_a_thing_made_on_first_use_is_made_once_and_its_known_attributes_never_make_it():
    from chatroom.environment import MadeOnFirstUse

    made = []

    def make():
        made.append(object())
        return type("Table", (), {"put_item": lambda self: "put"})()

    table = MadeOnFirstUse(make, name="ConnectionsTable")
    assert table.name == "ConnectionsTable" and made == []
    assert table.put_item() == "put" and table.put_item() == "put"
    assert len(made) == 1


def test_a_service_with_no_route_named_makes_every_client_when_first_used(chat_tables, monkeypatch):
    from chatroom import environment

    made_now = []
    real = environment.AwsClients

    def recorded(session, environ, ready=()):
        made_now.append(tuple(ready))
        return real(session, environ, ready)

    monkeypatch.setattr(environment, "AwsClients", recorded)
    environment.chat_service(environ=ENVIRON)
    environment.chat_service("$connect", environ=ENVIRON)
    assert made_now == [(), ("dynamodb",)]


def test_a_thing_made_on_first_use_answers_copys_probes_without_making_it():
    import copy

    from chatroom.environment import MadeOnFirstUse

    made = []
    stand_in = MadeOnFirstUse(lambda: made.append(1), name="ConnectionsTable")
    assert copy.copy(stand_in).name == "ConnectionsTable"
    assert not hasattr(stand_in, "__deepcopy__") and made == []
