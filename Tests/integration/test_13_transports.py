"""13: TLS (mqtts), WebSocket (ws) and WebSocket over TLS (wss) listeners.

Ours only: the reference mosquitto is not configured with these listeners. Certificates are
made per test with the openssl CLI (a CA, a server certificate for localhost/127.0.0.1, and a
client certificate from a second CA).

Decision (frame announcing more bytes than it sends, then silence): the broker keeps only the
frame's state (no buffer is sized from the header), forwards what arrives, and the connection
is closed by the connect timeout (before CONNECT) or the keepalive (after it).
"""
from __future__ import annotations

import base64
import os
import pathlib
import signal
import socket
import ssl
import struct
import subprocess
import time

import pytest

import mqtt_raw as raw
from conftest import BROKER_BIN, free_port
from helpers import HealthyPair, MosquittoSub, PahoClient, mosquitto_pub, unique, wait_subscribed

pytestmark = pytest.mark.ours_only


# ---------------------------------------------------------------- certificates

def _openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d: pathlib.Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}", cwd=d)


def _make_cert(d: pathlib.Path, name: str, ca: str, cn: str, server: bool) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if server else "extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext.name, cwd=d)


class Certs:
    def __init__(self, d: pathlib.Path):
        self.dir = d
        _make_ca(d, "ca")
        _make_cert(d, "server", "ca", "localhost", server=True)
        _make_ca(d, "clientca")
        _make_cert(d, "client", "clientca", "device-1", server=False)
        _make_ca(d, "otherca")
        _make_cert(d, "stranger", "otherca", "stranger", server=False)

    def path(self, name: str) -> str:
        return str(self.dir / name)


@pytest.fixture
def certs(tmp_path) -> Certs:
    d = tmp_path / "certs"
    d.mkdir()
    return Certs(d)


# ---------------------------------------------------------------- broker with every transport

class Ports:
    def __init__(self, mqtt: int, mqtts: int, ws: int, wss: int):
        self.mqtt, self.mqtts, self.ws, self.wss = mqtt, mqtts, ws, wss


def start_all(broker_factory, certs: Certs, tls_extra: dict | None = None, wss_tls: dict | None = None,
              path: str = "/", **limits):
    mqtts, ws, wss = free_port(), free_port(), free_port()
    while len({mqtts, ws, wss}) < 3:  # a port released by one call can come back from the next
        ws, wss = free_port(), free_port()
    tls = {"cert": certs.path("server.crt"), "key": certs.path("server.key"), **(tls_extra or {})}
    listeners = [
        # --port (the factory's) replaces the first mqtt listener's port.
        {"protocol": "mqtt", "host": "127.0.0.1", "port": 1},
        {"protocol": "mqtts", "host": "127.0.0.1", "port": mqtts, "tls": tls},
        {"protocol": "ws", "host": "127.0.0.1", "port": ws, "path": path},
        {"protocol": "wss", "host": "127.0.0.1", "port": wss, "path": path, "tls": wss_tls or tls},
    ]
    while True:
        try:
            b = broker_factory(ours_extra={"listeners": listeners}, **limits)
        except RuntimeError as error:
            # The factory picks its port after ours were released; the broker refuses two
            # listeners on one port, so start again on another.
            if "is already used by listeners" in str(error):
                continue
            raise
        if b.port not in (mqtts, ws, wss):
            # The factory waits for the mqtt port only; the others open just after it.
            for port in (mqtts, ws, wss):
                _wait_listening(port)
            return b, Ports(b.port, mqtts, ws, wss)
        b.stop()


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"port {port} never accepted"
            time.sleep(0.05)


def tls_setup(certs: Certs, **kw):
    def setup(c):
        c.tls_set(ca_certs=certs.path("ca.crt"), **kw)
    return setup


def ws_setup(certs: Certs | None = None, path: str = "/"):
    def setup(c):
        if certs:
            c.tls_set(ca_certs=certs.path("ca.crt"))
        c.ws_set_options(path=path)
    return setup


def client_on(kind: str, ports: Ports, certs: Certs, **kw) -> PahoClient:
    if kind == "mqtt":
        return PahoClient(ports.mqtt, **kw)
    if kind == "mqtts":
        return PahoClient(ports.mqtts, setup=tls_setup(certs), host="localhost", **kw)
    if kind == "ws":
        return PahoClient(ports.ws, transport="websockets", setup=ws_setup(), **kw)
    return PahoClient(ports.wss, transport="websockets", setup=ws_setup(certs), host="localhost", **kw)


# ---------------------------------------------------------------- raw helpers

def tls_client_context(certs: Certs, **kw) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs.path("ca.crt"))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def wait_closed(sock: socket.socket, timeout: float) -> tuple[str, bytes]:
    """Reads until EOF/reset ("closed") or `timeout` ("timeout"); returns what was read."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            return "closed", data
        if not chunk:
            return "closed", data
        data += chunk
    return "timeout", data


def upgrade_request(path: str = "/", extra: str = "", protocol: str = "mqtt") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    proto = f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else ""
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{proto}{extra}\r\n").encode()


def http_exchange(port: int, request: bytes, timeout: float = 5.0) -> tuple[bytes, str]:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(request)
        how, data = wait_closed(s, timeout)
        return data, how
    finally:
        s.close()


def ws_frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_server_frames(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while len(data) >= 2:
        opcode, n = data[0] & 0x0F, data[1] & 0x7F
        assert data[1] & 0x80 == 0, "server frames must be unmasked"
        off = 2
        if n == 126:
            n, off = struct.unpack(">H", data[2:4])[0], 4
        elif n == 127:
            n, off = struct.unpack(">Q", data[2:10])[0], 10
        if len(data) < off + n:
            break
        frames.append((opcode, data[off:off + n]))
        data = data[off + n:]
    return frames


def ws_open(port: int, path: str = "/", wrap=None) -> tuple[socket.socket, bytes]:
    """Upgrades a raw socket; returns it and any bytes after the 101 head."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if wrap:
        s = wrap(s)
    s.sendall(upgrade_request(path))
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, f"closed during upgrade: {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"Sec-WebSocket-Protocol: mqtt" in head
    return s, rest


def close_code(frames: list[tuple[int, bytes]]) -> int | None:
    for opcode, payload in frames:
        if opcode == 8 and len(payload) >= 2:
            return struct.unpack(">H", payload[:2])[0]
    return None


# ---------------------------------------------------------------- real clients

@pytest.mark.parametrize("kind", ["mqtts", "ws", "wss"])
def test_paho_round_trip(broker_factory, certs, kind):
    b, ports = start_all(broker_factory, certs)
    t = unique(kind)
    c = client_on(kind, ports, certs)
    try:
        c.subscribe(f"{t}/#", qos=1)
        c.publish(f"{t}/x", b"hello " + kind.encode(), qos=1)
        m = c.get()
        assert (m.topic, m.payload) == (f"{t}/x", b"hello " + kind.encode())
        # Large payload (several TLS records / one big WebSocket frame with a 64-bit length).
        big = os.urandom(200_000)
        c.publish(f"{t}/big", big, qos=1)
        assert c.get().payload == big
    finally:
        c.stop()


def test_message_crosses_every_transport(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    t = unique("cross")
    kinds = ["mqtt", "mqtts", "ws", "wss"]
    clients = {k: client_on(k, ports, certs) for k in kinds}
    try:
        for c in clients.values():
            c.subscribe(f"{t}/#", qos=1)
        for k, c in clients.items():
            c.publish(f"{t}/{k}", f"from {k}".encode(), qos=1)
        for k, c in clients.items():
            got = sorted(m.payload.decode() for m in c.get_n(4))
            assert got == sorted(f"from {x}" for x in kinds), k
    finally:
        for c in clients.values():
            c.stop()


def test_mosquitto_clients_over_tls(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    t = unique("mtls")
    tls = ["--cafile", certs.path("ca.crt")]
    sub = MosquittoSub(ports.mqtts, [f"{t}/#"], qos=1, extra=["-v"] + tls)
    try:
        wait_subscribed(ports.mqtt, f"{t}/probe", sub)
        mosquitto_pub(ports.mqtts, f"{t}/a", "over tls", qos=1, extra=tls)
        assert sub.get_line() == f"{t}/a over tls"
    finally:
        sub.stop()


def test_old_deployment_debug_flow(broker_factory, certs):
    """wss at path /, a TLS 1.3-only listener, the CA file, MQTT 3.1.1 with username/password."""
    b, ports = start_all(broker_factory, certs, wss_tls={
        "cert": certs.path("server.crt"), "key": certs.path("server.key"), "min_version": "1.3"})

    def setup(c):
        c.tls_set(ca_certs=certs.path("ca.crt"))
        c.ws_set_options(path="/")
        c.username_pw_set("debug-user", "debug-password")

    c = PahoClient(ports.wss, transport="websockets", setup=setup, host="localhost")
    t = unique("debug")
    try:
        assert c.client.socket() is not None
        c.subscribe(f"{t}/#")
        c.publish(f"{t}/ping", b"pong")
        assert c.get().payload == b"pong"
    finally:
        c.stop()
    # The same listener refuses a client that stops at TLS 1.2.
    ctx = tls_client_context(certs, maximum_version=ssl.TLSVersion.TLSv1_2)
    with socket.create_connection(("127.0.0.1", ports.wss), timeout=5) as s:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(s, server_hostname="localhost")
    # ... and the negotiated version is 1.3.
    with socket.create_connection(("127.0.0.1", ports.wss), timeout=5) as s:
        with tls_client_context(certs).wrap_socket(s, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.3"


def test_alpn_mqtt_is_accepted(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    ctx = tls_client_context(certs)
    ctx.set_alpn_protocols(["mqtt"])
    with socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "mqtt"
            tls.sendall(raw.connect(unique("alpn")))
            assert tls.recv(4)[:2] == b"\x20\x02"


def test_tls_session_resumption(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    ctx = tls_client_context(certs, maximum_version=ssl.TLSVersion.TLSv1_2)
    with socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as tls:
            session = tls.session
    with socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost", session=session) as tls:
            assert tls.session_reused


# ---------------------------------------------------------------- TLS bad input

def test_tls_garbage_is_closed_and_others_unaffected(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    pair = HealthyPair(ports.mqtt)
    try:
        s = socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(300))
        how, data = wait_closed(s, 5)
        s.close()
        assert how == "closed"
        assert data == b"" or data[0] == 0x15, data[:8]  # nothing, or a TLS alert record
        pair.check()
        c = client_on("mqtts", ports, certs)
        c.stop()
    finally:
        pair.close()


def _client_hello(version: int) -> bytes:
    """A TLS 1.0/1.1-style ClientHello with no supported_versions extension."""
    body = struct.pack(">H", version) + os.urandom(32) + b"\x00"
    suites = [0xC013, 0xC014, 0x002F, 0x0035]
    body += struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", x) for x in suites)
    body += b"\x01\x00"
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


@pytest.mark.parametrize("version", [0x0301, 0x0302], ids=["tls1.0", "tls1.1"])
def test_old_tls_versions_refused(broker_factory, certs, version):
    b, ports = start_all(broker_factory, certs)
    s = socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5)
    s.sendall(_client_hello(version))
    how, data = wait_closed(s, 5)
    s.close()
    assert how == "closed"
    # Either an alert record (0x15) or nothing; never a ServerHello (0x16).
    assert data == b"" or data[0] == 0x15, data[:8]


def test_stalled_handshake_closed_after_connect_timeout(broker_factory, certs):
    b, ports = start_all(broker_factory, certs, connect_timeout_seconds=2)
    s = socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5)
    s.sendall(_client_hello(0x0303)[:20])  # half a ClientHello, then nothing
    start = time.monotonic()
    how, _ = wait_closed(s, 8)
    s.close()
    assert how == "closed"
    assert 1.5 <= time.monotonic() - start <= 6


def test_client_certificate_required(broker_factory, certs):
    tls_extra = {"ca": certs.path("clientca.crt"), "client_auth": "required"}
    b, ports = start_all(broker_factory, certs, tls_extra=tls_extra)
    t = unique("mtls")
    c = PahoClient(ports.mqtts, host="localhost", setup=tls_setup(
        certs, certfile=certs.path("client.crt"), keyfile=certs.path("client.key")))
    try:
        c.subscribe(f"{t}/x")
        c.publish(f"{t}/x", b"with cert")
        assert c.get().payload == b"with cert"
    finally:
        c.stop()
    for cert in (None, "stranger"):
        ctx = tls_client_context(certs)
        if cert:
            ctx.load_cert_chain(certs.path(f"{cert}.crt"), certs.path(f"{cert}.key"))
        with socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5) as s:
            try:
                tls = ctx.wrap_socket(s, server_hostname="localhost")
                # TLS 1.3: the server's verdict on the certificate arrives after the client's Finished.
                tls.sendall(raw.connect(unique("nocert")))
                assert tls.recv(4) == b"", f"{cert}: connection was accepted"
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                pass


def test_client_certificate_optional(broker_factory, certs):
    tls_extra = {"ca": certs.path("clientca.crt"), "client_auth": "optional"}
    b, ports = start_all(broker_factory, certs, tls_extra=tls_extra)
    without = client_on("mqtts", ports, certs)
    with_cert = PahoClient(ports.mqtts, host="localhost", setup=tls_setup(
        certs, certfile=certs.path("client.crt"), keyfile=certs.path("client.key")))
    without.stop()
    with_cert.stop()
    # A certificate that does not chain to the CA is refused even when optional.
    ctx = tls_client_context(certs)
    ctx.load_cert_chain(certs.path("stranger.crt"), certs.path("stranger.key"))
    with socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5) as s:
        try:
            tls = ctx.wrap_socket(s, server_hostname="localhost")
            tls.sendall(raw.connect(unique("stranger")))
            assert tls.recv(4) == b""
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass


def test_sighup_reloads_certificate_without_dropping(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    t = unique("hup")
    old = client_on("mqtts", ports, certs)
    try:
        old.subscribe(f"{t}/x")
        # Replace the server certificate with one from a new CA, then SIGHUP.
        _make_ca(certs.dir, "newca")
        _make_cert(certs.dir, "server", "newca", "localhost", server=True)
        b.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while b"reloaded TLS certificate" not in b.stderr_path.read_bytes():
            assert time.monotonic() < deadline, "no reload logged"
            time.sleep(0.05)
        # The old connection still works; new ones get the new certificate.
        old.publish(f"{t}/x", b"still here")
        assert old.get().payload == b"still here"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(certs.path("newca.crt"))
        with socket.create_connection(("127.0.0.1", ports.mqtts), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as tls:
                tls.sendall(raw.connect(unique("new")))
                assert tls.recv(4)[:2] == b"\x20\x02"
    finally:
        old.stop()


# ---------------------------------------------------------------- WebSocket bad input

def test_http_without_upgrade_gets_426(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    data, how = http_exchange(ports.ws, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 426 "), data
    assert how == "closed"


def test_malformed_http_gets_400(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    for request in (b"HELLO\r\n\r\n", b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
                    upgrade_request().replace(b"Connection: Upgrade", b"Connection: keep-alive")):
        data, how = http_exchange(ports.ws, request)
        assert data.startswith(b"HTTP/1.1 400 "), (request, data)
        assert how == "closed"


def test_wrong_path_gets_404(broker_factory, certs):
    b, ports = start_all(broker_factory, certs, path="/mqtt")
    data, _ = http_exchange(ports.ws, upgrade_request("/other"))
    assert data.startswith(b"HTTP/1.1 404 "), data
    s, _ = ws_open(ports.ws, "/mqtt")
    s.close()


def test_oversize_http_head_refused(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    data, how = http_exchange(ports.ws, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000)
    assert data.startswith(b"HTTP/1.1 431 "), data[:40]
    assert how == "closed"


def test_mqtt_split_across_frames_and_packed_in_one(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    s, _ = ws_open(ports.ws)
    t = unique("frames")
    stream = raw.connect(unique("ws")) + raw.subscribe(1, [(f"{t}/x", 0)])
    # CONNECT split over three frames (one fragmented message), SUBSCRIBE + PUBLISH in one.
    s.sendall(ws_frame(2, stream[:3], fin=False) + ws_frame(9, b"hi") + ws_frame(0, stream[3:7], fin=False)
              + ws_frame(0, stream[7:]))
    s.sendall(ws_frame(2, raw.publish(f"{t}/x", b"one") + raw.publish(f"{t}/x", b"two")))
    data = b""
    deadline = time.monotonic() + 5
    s.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            data += s.recv(65536)
        except socket.timeout:
            pass
        frames = parse_server_frames(data)
        payload = b"".join(p for op, p in frames if op == 2)
        if payload.count(b"one") and payload.count(b"two"):
            break
    frames = parse_server_frames(data)
    assert (10, b"hi") in frames, "ping answered with pong carrying its payload"
    payload = b"".join(p for op, p in frames if op == 2)
    assert payload.startswith(b"\x20\x02\x00\x00"), payload[:8]
    assert b"one" in payload and b"two" in payload
    # Close handshake: our close frame is echoed, then the socket closes.
    s.sendall(ws_frame(8, struct.pack(">H", 1000)))
    how, rest = wait_closed(s, 5)
    assert how == "closed"
    assert close_code(parse_server_frames(rest)) == 1000
    s.close()


def test_unmasked_frame_closes_1002(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    pair = HealthyPair(ports.mqtt)  # issue 8: a healthy client keeps working throughout
    s, _ = ws_open(ports.ws)
    s.sendall(ws_frame(2, raw.connect(unique("unmasked")), masked=False))
    how, data = wait_closed(s, 5)
    s.close()
    assert how == "closed"
    assert close_code(parse_server_frames(data)) == 1002
    pair.check()


def test_oversize_frame_closes_1009(broker_factory, certs):
    b, ports = start_all(broker_factory, certs, max_packet_size=1024)
    pair = HealthyPair(ports.mqtt)  # issue 8: a healthy client keeps working throughout
    s, _ = ws_open(ports.ws)
    s.sendall(ws_frame(2, bytes(10_000)))
    how, data = wait_closed(s, 5)
    s.close()
    assert how == "closed"
    assert close_code(parse_server_frames(data)) == 1009
    pair.check()


def test_text_frame_closes_1003(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    pair = HealthyPair(ports.mqtt)  # issue 8: a healthy client keeps working throughout
    s, _ = ws_open(ports.ws)
    s.sendall(ws_frame(1, b"hello"))
    how, data = wait_closed(s, 5)
    s.close()
    assert close_code(parse_server_frames(data)) == 1003
    pair.check()


def test_frame_longer_than_its_data_then_silence(broker_factory, certs):
    b, ports = start_all(broker_factory, certs, connect_timeout_seconds=2)
    pair = HealthyPair(ports.mqtt)  # issue 8: a healthy client keeps working throughout
    s, _ = ws_open(ports.ws)
    # The frame carries the start of a CONNECT that claims 59,996 bytes; the frame header
    # announces 60,000 bytes and 92 arrive.
    frame = ws_frame(2, b"\x10" + raw.encode_remaining_length(59_996) + bytes(60_000 - 4))
    s.sendall(frame[:100])
    start = time.monotonic()
    how, _ = wait_closed(s, 8)
    s.close()
    assert how == "closed"
    assert 1.5 <= time.monotonic() - start <= 6
    pair.check()


def test_wss_bad_frames_close_with_code(broker_factory, certs):
    b, ports = start_all(broker_factory, certs)
    pair = HealthyPair(ports.mqtt)  # issue 8: a healthy client keeps working throughout
    ctx = tls_client_context(certs)
    s, _ = ws_open(ports.wss, wrap=lambda sock: ctx.wrap_socket(sock, server_hostname="localhost"))
    s.sendall(ws_frame(2, b"\x10", masked=False))
    how, data = wait_closed(s, 5)
    s.close()
    assert close_code(parse_server_frames(data)) == 1002
    pair.check()



@pytest.mark.ours_only
def test_two_listeners_on_one_port_stop_start_up(tmp_path):
    """Every shard binds with SO_REUSEPORT, so a second listener on a port would bind as well and
    the kernel would split connections between the two: the broker refuses to start instead."""
    port = free_port()
    config = tmp_path / "clash.yaml"
    config.write_text(
        "listeners:\n"
        f"  - {{protocol: mqtt, host: 127.0.0.1, port: {port}}}\n"
        f"  - {{protocol: ws, host: 0.0.0.0, port: {port}}}\n")
    out = subprocess.run([BROKER_BIN, "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert f"listeners[1].port: port {port} is already used by listeners[0]" in out.stderr + out.stdout


# ---------------------------------------------------------------- peer addresses

def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_a_dual_stack_listener_names_each_client_by_its_address(broker_factory):
    """Logs (and bridge events) name a client by where it connects from: an IPv4 client of a
    `::` listener as a.b.c.d:port, not as the IPv4-mapped ::ffff:a.b.c.d, and an IPv6 client
    as its address and port. The start-up line names the listener as a URL, mqtt://[::]:port."""
    b = broker_factory(ours_extra={"listeners": [{"protocol": "mqtt", "host": "::", "port": 1}],
                                   "log": {"level": "debug"}})
    v4 = raw.connected(b.port, "peer-v4")
    v6 = raw.RawClient(b.port, host="::1")
    v6.do_connect("peer-v6")
    wanted = [f"listening on mqtt://[::]:{b.port} ", f"peer-v4 (127.0.0.1:{v4.sock.getsockname()[1]})",
              f"peer-v6 (::1:{v6.sock.getsockname()[1]})"]
    deadline = time.monotonic() + 5
    log = ""
    while time.monotonic() < deadline:
        log = b.stderr_path.read_text(errors="replace")
        if all(w in log for w in wanted):
            break
        time.sleep(0.05)
    for w in wanted:
        assert w in log
    v4.close()
    v6.close()
