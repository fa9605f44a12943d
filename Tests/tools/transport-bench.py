#!/usr/bin/env python3
"""Quick transport figures for a running broker: QoS 0 throughput over plain MQTT, mqtts, ws
and wss (one raw publisher, one raw subscriber, same transport), and TLS handshakes/s (see
README: `openssl s_time` gives the handshake rate without Python in the way).

    transport-bench.py --plain 1883 --tls 8883 --ws 8080 --wss 8443 --ca ca.crt [--messages N] [--size B]
"""
from __future__ import annotations

import argparse
import base64
import os
import socket
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import mqtt_raw as raw  # noqa: E402


def ws_frame(payload: bytes) -> bytes:
    n = len(payload)
    head = b"\x82" + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536
                      else bytes([0x80 | 127]) + struct.pack(">Q", n))
    # A zero mask key: valid masking (the bit is set) at no cost to the client.
    return head + b"\x00\x00\x00\x00" + payload


def open_conn(kind: str, port: int, ca: str | None):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if kind in ("mqtts", "wss"):
        ctx = ssl.create_default_context(cafile=ca)
        s = ctx.wrap_socket(s, server_hostname="localhost")
    if kind in ("ws", "wss"):
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
    return s


def wrap(kind: str, data: bytes) -> bytes:
    return ws_frame(data) if kind in ("ws", "wss") else data


def throughput(kind: str, port: int, ca: str | None, messages: int, size: int) -> float:
    topic = f"bench/{kind}/{os.getpid()}"
    sub = open_conn(kind, port, ca)
    sub.sendall(wrap(kind, raw.connect(f"sub-{kind}-{os.getpid()}") + raw.subscribe(1, [(topic, 0)])))
    time.sleep(0.3)
    sub.recv(65536)  # CONNACK + SUBACK
    packet = raw.publish(topic, os.urandom(size))
    expected = messages * len(packet)
    got = 0
    done = threading.Event()

    last = [time.monotonic()]

    def reader():
        # QoS 0 beyond 4 MiB queued for a slow subscriber is dropped by the broker: stop after
        # a second of silence and count what arrived.
        nonlocal got
        sub.settimeout(1.0)
        while got < expected:
            try:
                chunk = sub.recv(1 << 20)
            except (socket.timeout, TimeoutError):
                break
            if not chunk:
                break
            got += len(chunk)  # WebSocket frame headers make this count a little high
            last[0] = time.monotonic()
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    pub = open_conn(kind, port, ca)
    pub.sendall(wrap(kind, raw.connect(f"pub-{kind}-{os.getpid()}")))
    time.sleep(0.2)
    pub.recv(64)
    t.start()
    batch_count = max(1, 256 * 1024 // len(packet))
    batch = wrap(kind, packet * batch_count)
    start = time.monotonic()
    sent = 0
    while sent < messages:
        n = min(batch_count, messages - sent)
        pub.sendall(batch if n == batch_count else wrap(kind, packet * n))
        sent += n
    done.wait(120)
    elapsed = last[0] - start
    pub.close()
    sub.close()
    delivered = min(messages, got // len(packet))
    return delivered / elapsed, delivered


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--plain", type=int)
    p.add_argument("--tls", type=int)
    p.add_argument("--ws", type=int)
    p.add_argument("--wss", type=int)
    p.add_argument("--ca")
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args()
    for kind, port in (("mqtt", a.plain), ("mqtts", a.tls), ("ws", a.ws), ("wss", a.wss)):
        if port:
            rate, delivered = throughput(kind, port, a.ca, a.messages, a.size)
            mb = rate * (a.size + len(f"bench/{kind}/{os.getpid()}") + 4) / 1e6
            print(f"{kind:6s} {a.size:6d} B payload: {rate:10.0f} msg/s delivered ({mb:.1f} MB/s), "
                  f"{delivered}/{a.messages} arrived")


if __name__ == "__main__":
    main()
