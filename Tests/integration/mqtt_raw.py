"""A small raw-socket MQTT 3.1.1 codec for black-box broker tests.

Encoders accept arbitrary (also invalid) field values so tests can build
malformed packets; `RawClient` reads and parses packets with timeouts and can
tell "the broker closed the connection" apart from "nothing happened".
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

NAMES = {
    0: "RESERVED0", 1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK",
    5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
    10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
    14: "DISCONNECT", 15: "RESERVED15",
}


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------

def encode_remaining_length(n: int) -> bytes:
    if n < 0 or n > 268_435_455:
        raise ValueError("remaining length out of range")
    out = bytearray()
    while True:
        digit = n % 128
        n //= 128
        if n > 0:
            digit |= 0x80
        out.append(digit)
        if n == 0:
            return bytes(out)


def _b(s: str | bytes) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def encode_string(s: str | bytes) -> bytes:
    """Length-prefixed string; bytes are sent verbatim (for invalid UTF-8)."""
    data = _b(s)
    return struct.pack("!H", len(data)) + data


def fixed(ptype: int, flags: int, body: bytes = b"") -> bytes:
    return bytes([(ptype << 4) | (flags & 0x0F)]) + encode_remaining_length(len(body)) + body


def connect(client_id: str | bytes = "", clean: bool = True, keepalive: int = 60,
            username: str | bytes | None = None, password: str | bytes | None = None,
            will_topic: str | bytes | None = None, will_payload: bytes = b"",
            will_qos: int = 0, will_retain: bool = False,
            proto_name: str | bytes = "MQTT", proto_level: int = 4,
            flags: int | None = None, extra_flags: int = 0) -> bytes:
    """CONNECT. `flags` overrides the computed connect-flags byte entirely;
    `extra_flags` is OR-ed into it (e.g. 0x01 for the reserved bit)."""
    f = 0
    if clean:
        f |= 0x02
    if will_topic is not None:
        f |= 0x04 | ((will_qos & 3) << 3)
        if will_retain:
            f |= 0x20
    if password is not None:
        f |= 0x40
    if username is not None:
        f |= 0x80
    f |= extra_flags
    if flags is not None:
        f = flags
    body = encode_string(proto_name) + bytes([proto_level, f]) + struct.pack("!H", keepalive)
    body += encode_string(client_id)
    if will_topic is not None:
        body += encode_string(will_topic) + encode_string(will_payload)
    if username is not None:
        body += encode_string(username)
    if password is not None:
        body += encode_string(password)
    return fixed(CONNECT, 0, body)


def connack(session_present: bool, rc: int) -> bytes:
    return fixed(CONNACK, 0, bytes([1 if session_present else 0, rc]))


def publish(topic: str | bytes, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
            dup: bool = False, mid: int | None = None) -> bytes:
    flags = (0x08 if dup else 0) | ((qos & 3) << 1) | (0x01 if retain else 0)
    body = encode_string(topic)
    if qos > 0:
        body += struct.pack("!H", 1 if mid is None else mid)
    body += _b(payload)
    return fixed(PUBLISH, flags, body)


def _ack(ptype: int, mid: int, flags: int = 0) -> bytes:
    return fixed(ptype, flags, struct.pack("!H", mid))


def puback(mid: int) -> bytes:
    return _ack(PUBACK, mid)


def pubrec(mid: int) -> bytes:
    return _ack(PUBREC, mid)


def pubrel(mid: int, flags: int = 0x02) -> bytes:
    return _ack(PUBREL, mid, flags)


def pubcomp(mid: int) -> bytes:
    return _ack(PUBCOMP, mid)


def subscribe(mid: int, filters, flags: int = 0x02) -> bytes:
    """filters: list of (topic_filter, requested_qos) or a single filter str (QoS 0)."""
    if isinstance(filters, (str, bytes)):
        filters = [(filters, 0)]
    body = struct.pack("!H", mid)
    for topic, qos in filters:
        body += encode_string(topic) + bytes([qos])
    return fixed(SUBSCRIBE, flags, body)


def unsubscribe(mid: int, topics, flags: int = 0x02) -> bytes:
    if isinstance(topics, (str, bytes)):
        topics = [topics]
    body = struct.pack("!H", mid)
    for topic in topics:
        body += encode_string(topic)
    return fixed(UNSUBSCRIBE, flags, body)


def pingreq() -> bytes:
    return fixed(PINGREQ, 0)


def disconnect() -> bytes:
    return fixed(DISCONNECT, 0)


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------

@dataclass
class Packet:
    type: int
    flags: int
    body: bytes
    # Decoded fields (only those meaningful for the type are set)
    topic: str | None = None
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    mid: int | None = None
    session_present: bool | None = None
    rc: int | None = None
    codes: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return NAMES.get(self.type, str(self.type))

    def __repr__(self) -> str:
        if self.type == PUBLISH:
            return (f"PUBLISH(topic={self.topic!r}, qos={self.qos}, retain={self.retain}, "
                    f"dup={self.dup}, mid={self.mid}, payload={self.payload!r})")
        if self.type == CONNACK:
            return f"CONNACK(sp={self.session_present}, rc={self.rc})"
        if self.type == SUBACK:
            return f"SUBACK(mid={self.mid}, codes={self.codes})"
        if self.mid is not None:
            return f"{self.name}(mid={self.mid}, flags={self.flags:#x})"
        return f"{self.name}(flags={self.flags:#x}, body={self.body!r})"


def decode_publish_header(p: Packet) -> int:
    """Sets the flags, topic and packet id of PUBLISH `p`; returns where the rest of its body
    starts (the payload, or in MQTT 5 the properties)."""
    p.dup = bool(p.flags & 0x08)
    p.qos = (p.flags >> 1) & 3
    p.retain = bool(p.flags & 0x01)
    tlen = struct.unpack("!H", p.body[:2])[0]
    p.topic = p.body[2:2 + tlen].decode("utf-8")
    pos = 2 + tlen
    if p.qos > 0:
        p.mid = struct.unpack("!H", p.body[pos:pos + 2])[0]
        pos += 2
    return pos


def decode(first: int, body: bytes) -> Packet:
    ptype, flags = first >> 4, first & 0x0F
    p = Packet(ptype, flags, body)
    if ptype == PUBLISH:
        p.payload = body[decode_publish_header(p):]
    elif ptype == CONNACK:
        p.session_present = bool(body[0] & 0x01)
        p.rc = body[1]
    elif ptype == SUBACK:
        p.mid = struct.unpack("!H", body[:2])[0]
        p.codes = list(body[2:])
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK):
        p.mid = struct.unpack("!H", body[:2])[0]
    return p


class Closed(Exception):
    """The peer closed the connection (EOF or reset)."""


class RawClient:
    """A TCP connection speaking raw MQTT bytes."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self.pending: list[Packet] = []  # packets set aside while waiting for an ack

    # -- sending ----------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def try_send(self, data: bytes) -> bool:
        """Send, returning False instead of raising if the peer has gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self) -> None:
        """Close abruptly with a TCP RST (no DISCONNECT)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    # -- receiving --------------------------------------------------------
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for data")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data") from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
            self.closed = True
            raise Closed(str(e)) from None
        if not chunk:
            self.closed = True
            raise Closed("EOF")
        self.buf += chunk

    def _try_parse(self) -> Packet | None:
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            byte = self.buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
            if i > 4:
                raise ValueError("malformed remaining length from broker")
        if len(self.buf) < i + length:
            return None
        first = self.buf[0]
        body = bytes(self.buf[i:i + length])
        del self.buf[:i + length]
        return decode(first, body)

    def recv(self, timeout: float = 5.0) -> Packet:
        """Next packet. Raises TimeoutError or Closed."""
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            p = self._try_parse()
            if p is not None:
                return p
            if self.closed:
                raise Closed("EOF")
            self._fill(deadline)

    def expect(self, ptype: int, timeout: float = 5.0) -> Packet:
        p = self.recv(timeout)
        assert p.type == ptype, f"expected {NAMES[ptype]}, got {p!r}"
        return p

    def expect_ack(self, ptype: int, mid: int, timeout: float = 5.0) -> Packet:
        """Wait for the ack `ptype` with `mid`; PUBLISH packets arriving first are kept
        for later recv() calls (a broker may deliver before acknowledging)."""
        deadline = time.monotonic() + timeout
        stash = []
        try:
            while True:
                p = self.recv(max(0.001, deadline - time.monotonic()))
                if p.type == PUBLISH:
                    stash.append(p)
                    continue
                assert p.type == ptype, f"expected {NAMES[ptype]}, got {p!r}"
                assert p.mid == mid, f"expected {NAMES[ptype]} mid {mid}, got {p!r}"
                return p
        finally:
            self.pending = stash + self.pending

    def expect_nothing(self, timeout: float = 1.0) -> None:
        """Assert that no packet arrives and the connection stays open for `timeout`."""
        try:
            p = self.recv(timeout)
        except TimeoutError:
            return
        except Closed:
            raise AssertionError("connection closed unexpectedly") from None
        raise AssertionError(f"unexpected packet {p!r}")

    def wait_closed(self, timeout: float = 5.0, allow_packets: bool = False) -> str:
        """Return "closed" if the broker closes the connection within `timeout`,
        "timeout" if it is still open. Packets received meanwhile raise an
        AssertionError unless allow_packets (then they are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                p = self.recv(max(0.0, deadline - time.monotonic()) or 0.001)
            except Closed:
                return "closed"
            except TimeoutError:
                return "timeout"
            if not allow_packets:
                raise AssertionError(f"expected connection close, got packet {p!r}")

    def collect_publishes(self, count: int, timeout: float = 5.0, ack: bool = True) -> list[Packet]:
        """Receive `count` PUBLISH packets, acknowledging QoS 1/2 if `ack`."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            p = self.recv(max(0.001, deadline - time.monotonic()))
            if p.type == PUBLISH:
                out.append(p)
                if ack:
                    self.ack_publish(p)
            elif p.type == PUBREL and ack:
                self.send(pubcomp(p.mid))
            else:
                raise AssertionError(f"unexpected packet while collecting publishes: {p!r}")
        return out

    def ack_publish(self, p: Packet) -> None:
        """Complete the inbound side of a QoS 1/2 PUBLISH (QoS 2: waits for PUBREL)."""
        if p.qos == 1:
            self.send(puback(p.mid))
        elif p.qos == 2:
            self.send(pubrec(p.mid))
            rel = self.expect_ack(PUBREL, p.mid)
            assert rel.flags == 0x02, rel
            self.send(pubcomp(p.mid))

    # -- convenience -------------------------------------------------------
    def do_connect(self, client_id: str = "", clean: bool = True, keepalive: int = 60,
                   expect_rc: int = 0, **kw) -> Packet:
        self.send(connect(client_id, clean=clean, keepalive=keepalive, **kw))
        ack = self.expect(CONNACK)
        assert ack.rc == expect_rc, f"CONNACK rc {ack.rc}, expected {expect_rc}"
        return ack

    def do_subscribe(self, filters, mid: int = 1, expect_codes: list[int] | None = None) -> Packet:
        self.send(subscribe(mid, filters))
        ack = self.expect(SUBACK)
        assert ack.mid == mid, ack
        if expect_codes is not None:
            assert ack.codes == expect_codes, ack
        return ack

    def do_publish(self, topic, payload=b"", qos: int = 0, retain: bool = False, mid: int = 1) -> None:
        """Publish and complete the QoS flow as sender."""
        self.send(publish(topic, payload, qos=qos, retain=retain, mid=mid))
        if qos == 1:
            self.expect_ack(PUBACK, mid)
        elif qos == 2:
            self.expect_ack(PUBREC, mid)
            self.send(pubrel(mid))
            self.expect_ack(PUBCOMP, mid)

    def do_disconnect(self) -> None:
        self.try_send(disconnect())
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connected(port: int, client_id: str = "", clean: bool = True, keepalive: int = 60, **kw) -> RawClient:
    """Open a RawClient and complete CONNECT/CONNACK (rc 0)."""
    c = RawClient(port)
    c.do_connect(client_id, clean=clean, keepalive=keepalive, **kw)
    return c
