"""The fan-out: posting one envelope to a room of any size.

- ``management_api``: the Management API client (signed keep-alive posts), on
  ``sigv4`` (SigV4 with the day's key kept), ``http1`` (the answer parser and a blocking
  kept-alive connection) and ``kept_alive_sockets`` (kept-alive connections one thread
  drives with ``selectors``);
- ``broadcast``: first attempts from one thread, retries from a pool of threads with the
  one retry loop, within the ``POST`` budget;
- ``shards``: the fan-out queue and its messages (shards, overdue checks);
- ``policy``: inline or sharded, by the room's size and the time left.

A leaf package: it imports nothing of the chat above it. FanOutFunction's work, shards and
overdue checks, is ``chatroom.shard_poster`` (it needs the backstop, ``chatroom.delivery``).
"""

from chatroom.fanout.broadcast import Broadcaster, BroadcastResult, Delivery
from chatroom.fanout.management_api import ManagementApiClients, management_endpoint
from chatroom.fanout.policy import FanOut, FanOutResult
from chatroom.fanout.shards import FanOutError, Origin, OverdueCheck, Shard, ShardError, ShardQueue

__all__ = [
    "BroadcastResult",
    "Broadcaster",
    "Delivery",
    "FanOut",
    "FanOutError",
    "FanOutResult",
    "ManagementApiClients",
    "Origin",
    "OverdueCheck",
    "Shard",
    "ShardError",
    "ShardQueue",
    "management_endpoint",
]
