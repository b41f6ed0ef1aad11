"""API Gateway's rules, as a pure core. For WebSocket APIs: route selection, the events,
the limits and close codes, what an integration's result means, ``@connections``, the
connection registry and the HTTP it all rides on; which door a request takes
(``doors``); REST and HTTP APIs in ``proxy``. No sockets, no processes."""
