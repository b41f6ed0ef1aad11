from wslocal.apigateway.connections import ConnectionRegistry, ConnectionState


class Outbound:
    def send(self, data):
        pass

    def close(self, code, reason):
        pass


def test_a_connection_is_connecting_until_opened_and_closed_when_unregistered():
    now = iter([10.0, 12.0])
    registry = ConnectionRegistry(clock=lambda: next(now))
    connection = registry.register("c", Outbound(), "127.0.0.1", "ua")
    assert connection.state is ConnectionState.CONNECTING
    assert connection.connected_at_ms == 10000
    registry.open("c")
    assert registry.get("c").state is ConnectionState.OPEN
    registry.touch("c")
    assert connection.last_active_at == 12.0
    assert registry.unregister("c") is connection
    assert connection.state is ConnectionState.CLOSED
    assert registry.get("c") is None and len(registry) == 0


def test_registries_are_independent():
    first, second = ConnectionRegistry(clock=lambda: 0.0), ConnectionRegistry(clock=lambda: 0.0)
    first.register("same-id", Outbound(), "127.0.0.1")
    assert second.get("same-id") is None
