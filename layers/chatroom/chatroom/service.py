"""ChatService: what each route does, so that every handler is a few lines.

Every method takes the caller (from the event) and returns a Reply that is the Lambda
proxy response. Bad input never raises out of here: it becomes an error envelope for the
sender, or a 400 for a handshake, and nothing already stored is touched.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from chatroom import protocol
from chatroom.connections import Connection
from chatroom.delivery import GRACE_S
from chatroom.exceptions import ChatError, ProtocolError
from chatroom.fanout.broadcast import Delivery
from chatroom.fanout.shards import LONGEST_DELAY_S, Origin
from chatroom.messages import FAILED, HANDED_OFF, StoredMessage, time_ordered_id
from chatroom.retry import unlimited
from chatroom.telemetry import Remaining, count, logger

if TYPE_CHECKING:
    from chatroom.environment import ChatEnvironment

LONGEST_DEADLINE_MS = (LONGEST_DELAY_S - GRACE_S) * 1000
"""A message's ``deliverBy`` is never later than this after its store, so that its overdue
check, due ``GRACE_S`` after it, fits SQS's longest delay (Lambda's longest timeout, 900
s, would not: its check would come 2 s early). Posting stops ``RESERVE_S`` before an
invocation's end, so only the mark may still be on its way then."""


@dataclass(frozen=True)
class Caller:
    """Who sent the event: the part of ``requestContext`` the chat uses."""

    connection_id: str
    domain_name: str
    stage: str
    source_ip: str
    connected_at: int
    verified_name: str | None = None
    """The user's name from the $connect authorizer's context (a verified token), if any."""
    verified_subject: str | None = None
    """The verified user's id (the authorizer's principalId), if any."""

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Caller:
        context = event["requestContext"]
        authorizer = context.get("authorizer") or {}
        verified = authorizer.get("name")
        subject = authorizer.get("principalId") if verified else None
        return cls(
            connection_id=context["connectionId"],
            domain_name=context["domainName"],
            stage=context["stage"],
            source_ip=context.get("identity", {}).get("sourceIp", ""),
            connected_at=int(context.get("connectedAt") or time.time() * 1000),
            verified_name=str(verified) if verified else None,
            verified_subject=str(subject) if subject else None,
        )


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: bytes | None = None

    def as_response(self) -> dict[str, Any]:
        """The Lambda proxy response; ``body`` reaches the caller on two-way routes."""
        response: dict[str, Any] = {"statusCode": self.status_code}
        if self.body is not None:
            response["body"] = self.body.decode("utf-8")
        return response


class ChatService:
    """The WebSocket routes; a handler gets one from ``chatroom.environment.chat_service``."""

    def __init__(self, environment: ChatEnvironment) -> None:
        self._env = environment
        self._connections = environment.connections
        self._messages = environment.messages
        self._fan_out = environment.fan_out
        self._clients = environment.clients
        self._metrics = environment.metrics
        self._clock = environment.clock
        self._backstop = environment.backstop()

    def connect(self, caller: Caller, query: Mapping[str, str] | None) -> Reply:
        """Store the connection: one write, whatever the room's size. The room hears of
        it from the table's stream (``PresenceFunction``), never from the handshake."""
        try:
            join = protocol.parse_join(query, verified_name=caller.verified_name)
        except ProtocolError as exc:
            return Reply(400, protocol.encode(protocol.error(exc.code, exc.message)))
        self._connections.add(
            Connection(
                connection_id=caller.connection_id,
                room=join.room,
                name=join.name,
                connected_at=caller.connected_at,
                source_ip=caller.source_ip,
                verified_subject=caller.verified_subject,
            )
        )
        logger.append_keys(room=join.room)
        return Reply(200)

    def disconnect(self, caller: Caller) -> Reply:
        """Forget the connection (the stream announces it); an unknown one is fine."""
        gone = self._connections.remove(caller.connection_id)
        if gone is not None:
            logger.append_keys(room=gone.room)
        return Reply(200)

    def send_message(
        self, caller: Caller, body: str | None, remaining: Remaining = unlimited
    ) -> Reply:
        """Validate, store in the room's history (once per ``clientId``, pending until
        handed off), acknowledge to the sender, then send to every other member (inline
        or in shards, within the invocation's ``remaining`` time) and mark it handed off.
        If that fails, the sender is told and the backstop delivers it later
        (``chatroom.delivery``). A retry of a message not handed off delivers it again,
        under its first id (a failed one is set back to pending before the ack, so the
        backstop covers the retry too); of one handed off, is acknowledged again and sent
        to no one. Claims and the rate are the sender's (``chatroom.senders``), not the
        connection's."""
        sender = self._connections.get(caller.connection_id)
        if sender is None:
            return self._refuse(caller, protocol.not_joined_error())
        logger.append_keys(room=sender.room)
        sent_at_ms = int(self._clock() * 1000)
        try:
            typed = protocol.parse_chat_message(body, self._env.max_message_bytes)
            protocol.check_envelope_size(
                StoredMessage(
                    time_ordered_id(sent_at_ms),
                    sender.room,
                    sender.name,
                    typed.text,
                    sent_at_ms,
                    typed.client_id,
                ).envelope()
            )
        except ProtocolError as exc:
            return self._refuse(caller, exc)
        limiter = self._env.rate_limiter
        if limiter is not None and not limiter.admit(sender.rate_key, self._clock()):
            count(self._metrics, "RateLimited", 1)
            return self._refuse(caller, protocol.rate_limited_error(limiter.rate, typed.client_id))
        deliver_by_ms = sent_at_ms + int(min(remaining() * 1000, LONGEST_DEADLINE_MS))
        appended = self._messages.append(
            room=sender.room,
            sender=sender.name,
            payload=typed.text,
            sent_at_ms=sent_at_ms,
            client_id=typed.client_id,
            sender_connection_id=caller.connection_id,
            deliver_by_ms=deliver_by_ms,
            sender_key=sender.sender_key,
        )
        stored = appended.message
        if appended.duplicate and stored.delivery == FAILED:
            # Pending again before the ack: if this invocation dies, the backstop has it.
            self._messages.reopen(
                stored.room, stored.message_id, deliver_by_ms, caller.connection_id
            )
        self._post(
            caller,
            protocol.ack(
                client_id=typed.client_id,
                message_id=stored.message_id,
                sent_at_ms=stored.sent_at_ms,
                duplicate=appended.duplicate,
            ),
        )
        if appended.duplicate and stored.handed_off:
            logger.info("a retried message was handed off already", extra={"id": stored.message_id})
            return Reply(200)
        if appended.duplicate:
            logger.info("a retried message is delivered again", extra={"id": stored.message_id})
        else:
            count(self._metrics, "Messages", 1)
        try:
            self._hand_off(caller, sender.sender_key, stored, remaining)
        except (BotoCoreError, ClientError, ChatError):
            logger.exception("the hand-off failed after the message was stored")
            self._post(caller, protocol.delivery_failed(typed.client_id, stored.message_id))
            return Reply(502)
        return Reply(200)

    def history(self, caller: Caller) -> Reply:
        """Answer the room's newest messages, oldest first, and who is here (a two-way
        route)."""
        member = self._connections.get(caller.connection_id)
        if member is None:
            problem = protocol.not_joined_error()
            return Reply(200, protocol.encode(protocol.error(problem.code, problem.message)))
        logger.append_keys(room=member.room)
        mine = member.sender_key
        envelopes = [message.envelope(mine) for message in self._messages.recent(member.room)]
        members = protocol.members_snapshot(
            [m.name for m in self._connections.members(member.room)], int(self._clock() * 1000)
        )
        return Reply(200, protocol.encode(protocol.history(member.room, envelopes, members)))

    def unknown_action(self, body: str | None) -> Reply:
        """Answer a frame no route took (the $default route, two-way)."""
        problem: ProtocolError
        try:
            problem = protocol.unknown_action_error(body)
        except ProtocolError as exc:
            problem = exc
        return Reply(200, protocol.encode(protocol.error(problem.code, problem.message)))

    def _hand_off(
        self, caller: Caller, sender_key: str, stored: StoredMessage, remaining: Remaining
    ) -> None:
        """Post or queue the message to every member but the sender, mark it handed off
        (or failed, and the sender told, if a member was given up on), then remove the
        connections that were gone."""
        recipients = [
            member
            for member in self._connections.members(stored.room, with_names=False)
            if member.connection_id != caller.connection_id
        ]
        client = self._clients.for_request(caller.domain_name, caller.stage)
        origin = Origin(stored.message_id, caller.connection_id, stored.client_id, sender_key)
        result = self._fan_out.deliver(
            client,
            stored.room,
            protocol.encode(stored.envelope()),
            recipients,
            remaining,
            origin=origin,
        )
        if result.failed:
            self._backstop.tell_sender(stored.room, origin, remaining, client)
        else:
            self._messages.mark(stored.room, stored.message_id, HANDED_OFF, remaining)
        self._fan_out.clean_up(result, remaining)
        count(self._metrics, "Deliveries", result.delivered)
        count(self._metrics, "GoneConnectionsRemoved", len(result.gone))
        count(self._metrics, "FailedDeliveries", result.failed)
        count(self._metrics, "ShardsQueued", result.shards)
        if recipients and not result.shards:
            self._metrics.add_metric(
                name="FanOutDuration", unit=MetricUnit.Milliseconds, value=result.duration_ms
            )
        outcome = {"type": "newMessage", **result.log_fields()}
        if result.failed:
            logger.warning("fan-out had failed posts", extra=outcome)
        else:
            logger.info("fan-out done", extra=outcome)

    def _refuse(self, caller: Caller, problem: ProtocolError) -> Reply:
        """Tell the sender what was wrong; the route is one-way, so this is a post."""
        logger.info("refused a message", extra={"code": problem.code})
        self._post(caller, protocol.error(problem.code, problem.message, problem.client_id))
        return Reply(400)

    def _post(self, caller: Caller, envelope: protocol.Envelope) -> None:
        """Post to the caller itself; a caller gone (410) is forgotten."""
        client = self._clients.for_request(caller.domain_name, caller.stage)
        delivery = self._fan_out.post_one(client, caller.connection_id, protocol.encode(envelope))
        if delivery is Delivery.GONE:
            self._connections.remove(caller.connection_id)
