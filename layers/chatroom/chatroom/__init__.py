"""The chat's shared Lambda layer: connection store, history, broadcaster, wire protocol."""

from chatroom import protocol
from chatroom.broadcast import (
    Broadcaster,
    BroadcastResult,
    Delivery,
    ManagementApiClients,
    management_endpoint,
)
from chatroom.connections import Connection, ConnectionStore, Member
from chatroom.exceptions import ChatError, InvalidJoinError, InvalidMessageError, ProtocolError
from chatroom.fanout import FanOut, FanOutError, Shard, ShardError, ShardPoster, ShardQueue
from chatroom.messages import MessageStore, StoredMessage
from chatroom.presence import PresenceAnnouncer, RoomChange, room_changes
from chatroom.service import Caller, ChatService, Reply
from chatroom.telemetry import Remaining, queue_handler, stream_handler, websocket_handler

__all__ = [
    "BroadcastResult",
    "Broadcaster",
    "Caller",
    "ChatError",
    "ChatService",
    "Connection",
    "ConnectionStore",
    "Delivery",
    "FanOut",
    "FanOutError",
    "InvalidJoinError",
    "InvalidMessageError",
    "ManagementApiClients",
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
    "management_endpoint",
    "protocol",
    "queue_handler",
    "room_changes",
    "stream_handler",
    "websocket_handler",
]
