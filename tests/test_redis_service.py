"""The redis-server that .ci/with-redis.sh starts for tests on 127.0.0.1.

The shared rate gate's Redis store is tested against this server; this
test checks that CI really provides one (loopback only, answering, writable).
It skips when HERBARIUM_REDIS_URL is not set (outside CI).
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest


def _command(conn: socket.socket, *parts: str) -> bytes:
    """Send one Redis command (RESP array of bulk strings); return the reply line."""
    payload = f"*{len(parts)}\r\n".encode()
    for part in parts:
        data = part.encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    conn.sendall(payload)
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = conn.recv(1)
        assert chunk, "redis-server closed the connection"
        reply += chunk
    if reply.startswith(b"$") and reply != b"$-1\r\n":
        size = int(reply[1:-2])
        body = b""
        while len(body) < size + 2:
            body += conn.recv(size + 2 - len(body))
        return body[:-2]
    return reply.rstrip(b"\r\n")


def test_redis_url_from_ci_is_a_loopback_server_that_stores_values() -> None:
    url = os.environ.get("HERBARIUM_REDIS_URL")
    if not url:
        pytest.skip("HERBARIUM_REDIS_URL is not set (CI sets it via .ci/with-redis.sh)")
    parts = urlsplit(url)
    assert parts.scheme == "redis"
    assert parts.hostname in ("127.0.0.1", "localhost", "::1")
    key = f"herbarium-dwc-test:{uuid.uuid4().hex}"
    with socket.create_connection((parts.hostname, parts.port or 6379), 5) as conn:
        assert _command(conn, "PING") == b"+PONG"
        assert _command(conn, "SET", key, "gate-open", "EX", "60") == b"+OK"
        assert _command(conn, "GET", key) == b"gate-open"
        assert _command(conn, "DEL", key) == b":1"
