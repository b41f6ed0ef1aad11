"""The JSON client's connections: kept alive between calls, replaced when the server
dropped one, and calls tried again as botocore's standard mode does."""

import asyncio
import json

import botocore.session
import pytest
from botocore.credentials import Credentials

from wslocal.engines.moto_server import free_port
from wslocal.eventsources.aws_client import AwsJsonClient
from wslocal.eventsources.aws_json import EndpointError, ServiceError


class Engine:
    """A server that answers each request with the next of ``answers`` (status, body),
    counting connections; ``close_after`` closes each connection after that many;
    ``drop`` closes the connection on the request of that number (from 1) unanswered, as a
    server that processed it and then failed."""

    def __init__(
        self, answers: list[tuple[int, dict]], close_after: int = 0, drop: int = 0
    ) -> None:
        self.answers = answers
        self.connections = 0
        self.targets: list[str] = []
        self.heads: list[dict[str, str]] = []
        self._close_after = close_after
        self._drop = drop

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        while head := await reader.readuntil(b"\r\n\r\n"):
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if line)
            await reader.readexactly(int(headers["Content-Length"]))
            self.targets.append(headers["X-Amz-Target"])
            self.heads.append({name.lower(): value for name, value in headers.items()})
            if len(self.targets) == self._drop:
                writer.close()
                return
            status, body = self.answers.pop(0)
            data = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
            )
            served += 1
            if served == self._close_after:
                writer.close()
                return


async def client_of(engine: Engine, attempts: int = 3) -> tuple[AwsJsonClient, asyncio.Server]:
    server = await asyncio.start_server(engine.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AwsJsonClient(
        f"http://127.0.0.1:{port}", region="us-east-1", service="sqs",
        target_prefix="AmazonSQS", credentials=Credentials("a", "b"),
        attempts=attempts, random_fraction=lambda: 0.0,
    )  # fmt: skip
    return client, server


async def test_calls_share_one_kept_alive_connection():
    engine = Engine([(200, {"Messages": []}), (200, {"Successful": []})])
    client, server = await client_of(engine)
    async with server:
        assert await client.call("ReceiveMessage", {}) == {"Messages": []}
        assert await client.call("DeleteMessageBatch", {}) == {"Successful": []}
        client.close()
    assert engine.connections == 1
    assert engine.targets == ["AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessageBatch"]


async def test_a_connection_the_server_dropped_while_idle_is_replaced_at_no_cost():
    engine = Engine([(200, {}), (200, {"ok": True})], close_after=1)
    client, server = await client_of(engine, attempts=1)
    async with server:
        await client.call("ReceiveMessage", {})
        await asyncio.sleep(0.05)
        assert await client.call("ReceiveMessage", {}) == {"ok": True}
        client.close()
    assert engine.connections == 2


async def test_a_request_lost_once_written_on_a_kept_alive_connection_costs_an_attempt():
    engine = Engine([(200, {}), (200, {"ok": True})], drop=2)
    client, server = await client_of(engine, attempts=1)
    async with server:
        await client.call("ReceiveMessage", {})
        with pytest.raises(EndpointError, match="closed before we received a valid response"):
            await client.call("ReceiveMessage", {})  # the server may have processed it
        client.close()
    assert engine.targets == ["AmazonSQS.ReceiveMessage"] * 2


async def test_throttling_is_tried_again_until_it_passes():
    throttled = (400, {"__type": "ThrottlingException", "message": "slow down"})
    engine = Engine([throttled, throttled, (200, {"ok": True})])
    client, server = await client_of(engine)
    async with server:
        assert await client.call("ReceiveMessage", {}) == {"ok": True}
        client.close()


async def test_an_error_that_is_no_throttling_is_not_tried_again():
    engine = Engine([(400, {"__type": "InvalidParameterValue", "message": "no"}), (200, {})])
    client, server = await client_of(engine)
    async with server:
        with pytest.raises(ServiceError, match=r"\(InvalidParameterValue\) .*: no$"):
            await client.call("ReceiveMessage", {})
        client.close()
    assert len(engine.targets) == 1


async def test_an_endpoint_that_refuses_is_said_as_botocore_says_it_after_three_attempts():
    url = f"http://127.0.0.1:{free_port()}"
    client = AwsJsonClient(
        url, region="us-east-1", service="sqs", target_prefix="AmazonSQS",
        credentials=Credentials("a", "b"), random_fraction=lambda: 0.0,
    )  # fmt: skip
    with pytest.raises(EndpointError) as raised:
        await client.call("ReceiveMessage", {})
    assert str(raised.value) == f'Could not connect to the endpoint URL: "{url}"'


@pytest.mark.parametrize(("service", "query_mode"), [("sqs", "true"), ("dynamodbstreams", None)])
async def test_a_client_like_botocores_says_query_mode_as_it_does(service, query_mode):
    engine = Engine([(200, {})])
    server = await asyncio.start_server(engine.serve, "127.0.0.1", 0)
    botocore_client = botocore.session.get_session().create_client(
        service,
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    client = AwsJsonClient.like(botocore_client, "AmazonSQS")
    async with server:
        await client.call("ReceiveMessage", {})
        client.close()
    assert engine.heads[0].get("x-amzn-query-mode") == query_mode
