"""A bare WebSocket client on a socket, for what real clients will not do on purpose:
close without a status code (1005), or vanish without a close frame (1006)."""

import base64
import os
import socket
import struct
from urllib.parse import urlsplit


def open_raw(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sock.sendall(
        (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, "the server closed during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def send_close_without_status(sock: socket.socket) -> None:
    """A masked close frame with an empty payload: the server sees 1005."""
    sock.sendall(struct.pack("!BB", 0x88, 0x80) + os.urandom(4))
