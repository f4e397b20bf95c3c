"""Read the server name (SNI) from a TLS ClientHello before the handshake, so the HTTPS server can
choose a site's certificate, or send garbage instead of TLS (the tls-garbage behaviour)."""

from __future__ import annotations

import socket
import struct
import time


def peek_client_hello(conn: socket.socket, timeout: float = 10.0) -> bytes:
    """The first TLS record as far as it has arrived (left in the socket for the handshake)."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        data = conn.recv(16384, socket.MSG_PEEK)
        if not data:
            return b""
        if len(data) >= 5:
            need = 5 + struct.unpack("!H", data[3:5])[0]
            if len(data) >= need or len(data) >= 16384:
                return data
        time.sleep(0.01)
    return data


def server_name(hello: bytes) -> str | None:
    """The host_name of the server_name extension, or None (no SNI, or not a ClientHello)."""
    try:
        if len(hello) < 43 or hello[0] != 0x16 or hello[5] != 0x01:
            return None
        pos = 9 + 2 + 32                      # record(5) + handshake header(4) + version + random
        pos += 1 + hello[pos]                 # session id
        pos += 2 + struct.unpack("!H", hello[pos:pos + 2])[0]   # cipher suites
        pos += 1 + hello[pos]                 # compression methods
        end = pos + 2 + struct.unpack("!H", hello[pos:pos + 2])[0]
        pos += 2
        while pos + 4 <= end:
            ext_type, ext_len = struct.unpack("!HH", hello[pos:pos + 4])
            pos += 4
            if ext_type == 0:
                name_len = struct.unpack("!H", hello[pos + 3:pos + 5])[0]
                return hello[pos + 5:pos + 5 + name_len].decode("ascii").lower()
            pos += ext_len
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return None
