"""Errors the chat layer raises.

ChatError
├── ProtocolError          bad input from a client; carries the wire error code
│   ├── InvalidJoinError   bad ?room= / ?name= on $connect (handshake gets 400)
│   └── InvalidMessageError bad inbound message (sender gets an error envelope)
└── ClaimVanishedError     a clientId's claim found taken, then gone, on every try:
                           nothing is acknowledged (never an id not stored)
"""

from __future__ import annotations


class ChatError(Exception):
    """Root of every error the chat layer raises."""


class ProtocolError(ChatError):
    """A client sent something the wire protocol does not allow.

    ``code`` is the machine-readable code sent back in the error envelope; ``str(error)``
    is the human-readable message.
    """

    def __init__(self, code: str, message: str, client_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id
        """The refused message's ``clientId``, so the sender knows which one failed."""


class InvalidJoinError(ProtocolError):
    """The connect URL named a room or a display name the protocol rejects."""


class InvalidMessageError(ProtocolError):
    """An inbound message was not valid JSON, not an object, or broke a message rule."""


class ClaimVanishedError(ChatError):
    """A clientId's claim kept being found taken and then gone: nothing acknowledged."""
