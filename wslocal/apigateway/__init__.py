"""API Gateway's rules for WebSocket APIs, as a pure core: route selection, the events,
the limits and close codes, what an integration's result means, ``@connections``, the
connection registry and the HTTP it all rides on. No sockets, no processes."""
