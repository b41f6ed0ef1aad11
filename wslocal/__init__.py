"""wslocal: serve an AWS SAM WebSocket API on localhost, running the real handler code.

The pure core (``template``, ``intrinsics``, ``routing``, ``events``, ``limits``,
``integration``, ``management_api``, ``connections``, ``framing``, ``http``) holds no
sockets; ``server``, ``workers``, ``dynamodb`` and ``cli`` move data.
"""

__version__ = "0.1.0"
