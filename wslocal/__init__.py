"""wslocal: serve a whole AWS SAM app on localhost (its WebSocket, REST and HTTP APIs and
its event sources), running the real handler code.

The pure core (``template``, ``apigateway`` with its ``proxy`` rules, the record builders
of ``eventsources``, ``runtime.framing``) holds no sockets; ``server``, ``runtime``,
``engines`` and ``cli`` move data.
"""

__version__ = "0.1.0"
