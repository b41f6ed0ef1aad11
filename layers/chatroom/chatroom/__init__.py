"""The chat's shared Lambda layer: stores, fan-out, delivery guarantee, wire protocol.

- ``environment``: the clients and stores a function builds once, wired in one place;
- ``connections``, ``messages``, ``rate_limit``: what is kept in DynamoDB;
- ``fanout``: posting to a room of any size (``chatroom.fanout``'s own rooms);
- ``delivery``: the backstop that keeps an acknowledged message's promise;
- ``shard_poster``: FanOutFunction's work (shards, overdue checks);
- ``senders``: who a sender is (claims, failure notices, the rate limit);
- ``retry`` and ``budgets``: the one retry loop and the time budgets that add up;
- ``service`` (the WebSocket routes), ``presence`` (the connections stream);
- ``protocol``: the wire format; ``telemetry``: logs, metrics, handler decorators.
"""

from chatroom import environment, protocol
from chatroom.connections import Connection, ConnectionStore, Member
from chatroom.delivery import Backstop, DeliveryWatch
from chatroom.environment import ChatEnvironment
from chatroom.exceptions import ChatError, InvalidJoinError, InvalidMessageError, ProtocolError
from chatroom.fanout import FanOut, FanOutError, Shard, ShardError, ShardQueue
from chatroom.messages import MessageStore, StoredMessage
from chatroom.presence import PresenceAnnouncer, RoomChange, room_changes
from chatroom.service import Caller, ChatService, Reply
from chatroom.shard_poster import ShardPoster
from chatroom.telemetry import Remaining, queue_handler, stream_handler, websocket_handler

__all__ = [
    "Backstop",
    "Caller",
    "ChatEnvironment",
    "ChatError",
    "ChatService",
    "Connection",
    "ConnectionStore",
    "DeliveryWatch",
    "FanOut",
    "FanOutError",
    "InvalidJoinError",
    "InvalidMessageError",
    "Member",
    "MessageStore",
    "PresenceAnnouncer",
    "ProtocolError",
    "Remaining",
    "Reply",
    "RoomChange",
    "Shard",
    "ShardError",
    "ShardPoster",
    "ShardQueue",
    "StoredMessage",
    "environment",
    "protocol",
    "queue_handler",
    "room_changes",
    "stream_handler",
    "websocket_handler",
]
