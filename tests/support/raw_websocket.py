"""A bare WebSocket client on a socket, for what real clients will not do on purpose:
close without a status code (1005), vanish without a close frame (1006), or send a text
frame that is not UTF-8 (1007)."""

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


def send_masked(sock: socket.socket, opcode: int, payload: bytes) -> None:
    """One final, masked frame (payload under 126 bytes)."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    sock.sendall(struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked)


def read_close_code(sock: socket.socket) -> int:
    """The status code of the server's close frame (the first frame it sends back)."""
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the TCP connection without a close frame"
        data += chunk
    assert data[0] & 0x0F == 0x8, f"expected a close frame, got opcode {data[0] & 0x0F}"
    return int(struct.unpack("!H", data[2:4])[0])
