"""A raw-socket MQTT 5.0 codec for black-box broker tests, built on `mqtt_raw` (3.1.1).

Properties are given as a list of (id, value) pairs (order kept, ids may repeat) or as a dict
{id: value} where USER_PROPERTY / SUBSCRIPTION_IDENTIFIER may map to a list of values; `bytes`
is sent verbatim (for malformed property blocks). Values: int for byte / two-byte / four-byte /
varint properties, str or bytes for UTF-8 strings (bytes verbatim, for invalid UTF-8), bytes for
binary data, a (key, value) pair for USER_PROPERTY. An id missing from PROPERTY_TYPES must be
given a bytes value (sent verbatim after the id).

Decoded packets (`Packet5`) carry `reason` (0x00 when the packet omits it, as the spec says) and
`props` (a `Properties`). `RawClient5` parses every packet the broker sends as MQTT 5.
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

import mqtt_raw as raw
from mqtt_raw import (CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH,  # noqa: F401
                      PUBREC, PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE, Closed, _b,
                      encode_remaining_length, encode_string, fixed)

AUTH = 15
NAMES = {**raw.NAMES, AUTH: "AUTH"}

# ---------------------------------------------------------------- property ids (MQTT 5.0 §2.2.2.2)
PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

BYTE, U16, U32, VARINT, STRING, BINARY, PAIR = "byte", "u16", "u32", "varint", "string", "binary", "pair"

PROPERTY_TYPES = {
    PAYLOAD_FORMAT_INDICATOR: BYTE,
    MESSAGE_EXPIRY_INTERVAL: U32,
    CONTENT_TYPE: STRING,
    RESPONSE_TOPIC: STRING,
    CORRELATION_DATA: BINARY,
    SUBSCRIPTION_IDENTIFIER: VARINT,
    SESSION_EXPIRY_INTERVAL: U32,
    ASSIGNED_CLIENT_IDENTIFIER: STRING,
    SERVER_KEEP_ALIVE: U16,
    AUTHENTICATION_METHOD: STRING,
    AUTHENTICATION_DATA: BINARY,
    REQUEST_PROBLEM_INFORMATION: BYTE,
    WILL_DELAY_INTERVAL: U32,
    REQUEST_RESPONSE_INFORMATION: BYTE,
    RESPONSE_INFORMATION: STRING,
    SERVER_REFERENCE: STRING,
    REASON_STRING: STRING,
    RECEIVE_MAXIMUM: U16,
    TOPIC_ALIAS_MAXIMUM: U16,
    TOPIC_ALIAS: U16,
    MAXIMUM_QOS: BYTE,
    RETAIN_AVAILABLE: BYTE,
    USER_PROPERTY: PAIR,
    MAXIMUM_PACKET_SIZE: U32,
    WILDCARD_SUBSCRIPTION_AVAILABLE: BYTE,
    SUBSCRIPTION_IDENTIFIER_AVAILABLE: BYTE,
    SHARED_SUBSCRIPTION_AVAILABLE: BYTE,
}
_PROPERTY_NAME_LIST = """PAYLOAD_FORMAT_INDICATOR MESSAGE_EXPIRY_INTERVAL CONTENT_TYPE RESPONSE_TOPIC
    CORRELATION_DATA SUBSCRIPTION_IDENTIFIER SESSION_EXPIRY_INTERVAL ASSIGNED_CLIENT_IDENTIFIER SERVER_KEEP_ALIVE
    AUTHENTICATION_METHOD AUTHENTICATION_DATA REQUEST_PROBLEM_INFORMATION WILL_DELAY_INTERVAL
    REQUEST_RESPONSE_INFORMATION RESPONSE_INFORMATION SERVER_REFERENCE REASON_STRING RECEIVE_MAXIMUM
    TOPIC_ALIAS_MAXIMUM TOPIC_ALIAS MAXIMUM_QOS RETAIN_AVAILABLE USER_PROPERTY MAXIMUM_PACKET_SIZE
    WILDCARD_SUBSCRIPTION_AVAILABLE SUBSCRIPTION_IDENTIFIER_AVAILABLE SHARED_SUBSCRIPTION_AVAILABLE""".split()
PROPERTY_NAMES = {globals()[n]: n.lower() for n in _PROPERTY_NAME_LIST}

# ---------------------------------------------------------------- reason codes (MQTT 5.0 §2.4)
SUCCESS = 0x00
GRANTED_QOS_1 = 0x01
GRANTED_QOS_2 = 0x02
DISCONNECT_WITH_WILL = 0x04
NO_MATCHING_SUBSCRIBERS = 0x10
NO_SUBSCRIPTION_EXISTED = 0x11
CONTINUE_AUTHENTICATION = 0x18
REAUTHENTICATE = 0x19
UNSPECIFIED_ERROR = 0x80
MALFORMED_PACKET = 0x81
PROTOCOL_ERROR = 0x82
IMPLEMENTATION_SPECIFIC_ERROR = 0x83
UNSUPPORTED_PROTOCOL_VERSION = 0x84
CLIENT_IDENTIFIER_NOT_VALID = 0x85
BAD_USER_NAME_OR_PASSWORD = 0x86
NOT_AUTHORIZED = 0x87
SERVER_UNAVAILABLE = 0x88
SERVER_BUSY = 0x89
BANNED = 0x8A
SERVER_SHUTTING_DOWN = 0x8B
BAD_AUTHENTICATION_METHOD = 0x8C
KEEP_ALIVE_TIMEOUT = 0x8D
SESSION_TAKEN_OVER = 0x8E
TOPIC_FILTER_INVALID = 0x8F
TOPIC_NAME_INVALID = 0x90
PACKET_IDENTIFIER_IN_USE = 0x91
PACKET_IDENTIFIER_NOT_FOUND = 0x92
RECEIVE_MAXIMUM_EXCEEDED = 0x93
TOPIC_ALIAS_INVALID = 0x94
PACKET_TOO_LARGE = 0x95
MESSAGE_RATE_TOO_HIGH = 0x96
QUOTA_EXCEEDED = 0x97
ADMINISTRATIVE_ACTION = 0x98
PAYLOAD_FORMAT_INVALID = 0x99
RETAIN_NOT_SUPPORTED = 0x9A
QOS_NOT_SUPPORTED = 0x9B
USE_ANOTHER_SERVER = 0x9C
SERVER_MOVED = 0x9D
SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
CONNECTION_RATE_EXCEEDED = 0x9F
MAXIMUM_CONNECT_TIME = 0xA0
SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2

REPEATABLE = (USER_PROPERTY, SUBSCRIPTION_IDENTIFIER)


# ---------------------------------------------------------------- encoding

def encode_varint(n: int) -> bytes:
    return encode_remaining_length(n)


def encode_binary(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + bytes(data)


def _encode_value(pid: int, value) -> bytes:
    kind = PROPERTY_TYPES.get(pid)
    if kind is None:
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"unknown property id {pid:#x} needs a bytes value")
        return bytes(value)
    if kind == BYTE:
        return bytes([value & 0xFF])
    if kind == U16:
        return struct.pack("!H", value)
    if kind == U32:
        return struct.pack("!I", value)
    if kind == VARINT:
        return encode_varint(value)
    if kind == STRING:
        return encode_string(value)
    if kind == BINARY:
        return encode_binary(_b(value))
    k, v = value
    return encode_string(k) + encode_string(v)


def property_items(props) -> list[tuple[int, object]]:
    """Normalise a property argument (None, list of pairs, dict) to a list of (id, value)."""
    if props is None:
        return []
    if isinstance(props, dict):
        out = []
        for pid, value in props.items():
            if pid in REPEATABLE and isinstance(value, list):
                out += [(pid, v) for v in value]
            else:
                out.append((pid, value))
        return out
    return list(props)


def encode_properties(props=None) -> bytes:
    """Property length (varint) + properties. `bytes` is taken as the whole encoded block."""
    if isinstance(props, (bytes, bytearray)):
        return bytes(props)
    body = b"".join(encode_varint(pid) + _encode_value(pid, v) for pid, v in property_items(props))
    return encode_varint(len(body)) + body


def sub_options(qos: int = 0, no_local: bool = False, retain_as_published: bool = False,
                retain_handling: int = 0) -> int:
    """The SUBSCRIBE options byte (§3.8.3.1)."""
    return ((qos & 3) | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0)
            | ((retain_handling & 3) << 4))


def connect5(client_id: str | bytes = "", clean_start: bool = True, keepalive: int = 60,
             properties=None, will=None, will_properties=None,
             username: str | bytes | None = None, password: str | bytes | None = None,
             proto_name: str | bytes = "MQTT", proto_level: int = 5, flags: int | None = None,
             extra_flags: int = 0) -> bytes:
    """CONNECT (v5). will: (topic, payload[, qos[, retain]]). `flags` overrides the
    connect-flags byte; `extra_flags` is OR-ed into it."""
    f = 0x02 if clean_start else 0
    will_topic = will_payload = None
    if will is not None:
        will_topic, will_payload = will[0], _b(will[1])
        will_qos = will[2] if len(will) > 2 else 0
        will_retain = will[3] if len(will) > 3 else False
        f |= 0x04 | ((will_qos & 3) << 3) | (0x20 if will_retain else 0)
    if password is not None:
        f |= 0x40
    if username is not None:
        f |= 0x80
    f |= extra_flags
    if flags is not None:
        f = flags
    body = encode_string(proto_name) + bytes([proto_level, f]) + struct.pack("!H", keepalive)
    body += encode_properties(properties)
    body += encode_string(client_id)
    if will is not None:
        body += encode_properties(will_properties) + encode_string(will_topic) + encode_binary(will_payload)
    if username is not None:
        body += encode_string(username)
    if password is not None:
        body += encode_binary(_b(password))
    return fixed(CONNECT, 0, body)


def publish5(topic: str | bytes, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
             dup: bool = False, mid: int | None = None, properties=None) -> bytes:
    flags = (0x08 if dup else 0) | ((qos & 3) << 1) | (0x01 if retain else 0)
    body = encode_string(topic)
    if qos > 0:
        body += struct.pack("!H", 1 if mid is None else mid)
    body += encode_properties(properties) + _b(payload)
    return fixed(PUBLISH, flags, body)


def _ack5(ptype: int, mid: int, reason: int | None, properties, flags: int = 0) -> bytes:
    body = struct.pack("!H", mid)
    if reason is not None or properties is not None:
        body += bytes([reason or 0])
    if properties is not None:
        body += encode_properties(properties)
    return fixed(ptype, flags, body)


def puback5(mid: int, reason: int | None = None, properties=None) -> bytes:
    return _ack5(PUBACK, mid, reason, properties)


def pubrec5(mid: int, reason: int | None = None, properties=None) -> bytes:
    return _ack5(PUBREC, mid, reason, properties)


def pubrel5(mid: int, reason: int | None = None, properties=None) -> bytes:
    return _ack5(PUBREL, mid, reason, properties, flags=0x02)


def pubcomp5(mid: int, reason: int | None = None, properties=None) -> bytes:
    return _ack5(PUBCOMP, mid, reason, properties)


def subscribe5(mid: int, filters, properties=None, flags: int = 0x02) -> bytes:
    """filters: list of (filter, options_byte) (see sub_options) or a single filter (options 0)."""
    if isinstance(filters, (str, bytes)):
        filters = [(filters, 0)]
    body = struct.pack("!H", mid) + encode_properties(properties)
    for topic, options in filters:
        body += encode_string(topic) + bytes([options])
    return fixed(SUBSCRIBE, flags, body)


def unsubscribe5(mid: int, filters, properties=None, flags: int = 0x02) -> bytes:
    if isinstance(filters, (str, bytes)):
        filters = [filters]
    body = struct.pack("!H", mid) + encode_properties(properties)
    for topic in filters:
        body += encode_string(topic)
    return fixed(UNSUBSCRIBE, flags, body)


def _reason_and_props(ptype: int, reason: int | None, properties) -> bytes:
    if reason is None and properties is None:
        return fixed(ptype, 0)
    body = bytes([reason or 0])
    if properties is not None:
        body += encode_properties(properties)
    return fixed(ptype, 0, body)


def disconnect5(reason: int | None = None, properties=None) -> bytes:
    """DISCONNECT; with neither argument the 0-length form (reason 0x00)."""
    return _reason_and_props(DISCONNECT, reason, properties)


def auth5(reason: int | None = None, properties=None) -> bytes:
    return _reason_and_props(AUTH, reason, properties)


# ---------------------------------------------------------------- decoding

def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    mult, value = 1, 0
    for i in range(4):
        byte = data[pos + i]
        value += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            return value, pos + i + 1
    raise ValueError("malformed variable byte integer from broker")


class Properties:
    """Decoded properties in wire order; `items` may repeat ids."""

    def __init__(self, items: list[tuple[int, object]] | None = None):
        self.items = items or []

    def get(self, pid: int, default=None):
        for k, v in self.items:
            if k == pid:
                return v
        return default

    def all(self, pid: int) -> list:
        return [v for k, v in self.items if k == pid]

    def __contains__(self, pid: int) -> bool:
        return any(k == pid for k, _ in self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def user(self) -> list[tuple[str, str]]:
        return self.all(USER_PROPERTY)

    @property
    def subscription_ids(self) -> list[int]:
        return self.all(SUBSCRIPTION_IDENTIFIER)

    def ids(self) -> list[int]:
        return [k for k, _ in self.items]

    def __eq__(self, other) -> bool:
        if isinstance(other, Properties):
            return self.items == other.items
        return self.items == property_items(other)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{PROPERTY_NAMES.get(k, hex(k))}={v!r}" for k, v in self.items) + "}"


def decode_properties(data: bytes, pos: int) -> tuple[Properties, int]:
    """Decode a property block at `pos`; returns (Properties, position after it)."""
    length, pos = decode_varint(data, pos)
    end = pos + length
    if end > len(data):
        raise ValueError("property length beyond the packet")
    items = []
    while pos < end:
        pid, pos = decode_varint(data, pos)
        kind = PROPERTY_TYPES.get(pid)
        if kind == BYTE:
            v, pos = data[pos], pos + 1
        elif kind == U16:
            v, pos = struct.unpack("!H", data[pos:pos + 2])[0], pos + 2
        elif kind == U32:
            v, pos = struct.unpack("!I", data[pos:pos + 4])[0], pos + 4
        elif kind == VARINT:
            v, pos = decode_varint(data, pos)
        elif kind in (STRING, BINARY):
            n = struct.unpack("!H", data[pos:pos + 2])[0]
            v = data[pos + 2:pos + 2 + n]
            v = v.decode("utf-8") if kind == STRING else bytes(v)
            pos += 2 + n
        elif kind == PAIR:
            n = struct.unpack("!H", data[pos:pos + 2])[0]
            k = data[pos + 2:pos + 2 + n].decode("utf-8")
            pos += 2 + n
            n = struct.unpack("!H", data[pos:pos + 2])[0]
            v = (k, data[pos + 2:pos + 2 + n].decode("utf-8"))
            pos += 2 + n
        else:
            raise ValueError(f"unknown property id {pid:#x} from broker")
        items.append((pid, v))
    if pos != end:
        raise ValueError("property block overran its length")
    return Properties(items), end


@dataclass
class Packet5(raw.Packet):
    reason: int | None = None          # 0x00 where the packet may omit it and does
    reason_present: bool = False       # whether the reason byte was on the wire
    props: Properties = field(default_factory=Properties)

    @property
    def name(self) -> str:
        return NAMES.get(self.type, str(self.type))

    def __repr__(self) -> str:
        if self.type == PUBLISH:
            return (f"PUBLISH(topic={self.topic!r}, qos={self.qos}, retain={self.retain}, dup={self.dup}, "
                    f"mid={self.mid}, props={self.props!r}, payload={self.payload[:64]!r})")
        if self.type == CONNACK:
            return f"CONNACK(sp={self.session_present}, reason={self.reason:#04x}, props={self.props!r})"
        if self.type in (SUBACK, UNSUBACK):
            return (f"{self.name}(mid={self.mid}, codes={[hex(c) for c in self.codes]}, "
                    f"props={self.props!r})")
        if self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            return f"{self.name}(mid={self.mid}, reason={self.reason:#04x}, props={self.props!r})"
        if self.type in (DISCONNECT, AUTH):
            return f"{self.name}(reason={self.reason:#04x}, props={self.props!r})"
        return f"{self.name}(flags={self.flags:#x}, body={self.body!r})"


def decode5(first: int, body: bytes) -> Packet5:
    """Decode a packet a broker sends on an MQTT 5 connection."""
    ptype, flags = first >> 4, first & 0x0F
    p = Packet5(ptype, flags, body)
    if ptype == PUBLISH:
        p.props, pos = decode_properties(body, raw.decode_publish_header(p))
        p.payload = body[pos:]
    elif ptype == CONNACK:
        p.session_present = bool(body[0] & 0x01)
        p.rc = p.reason = body[1]
        p.reason_present = True
        if len(body) > 2:
            p.props, _ = decode_properties(body, 2)
    elif ptype in (SUBACK, UNSUBACK):
        p.mid = struct.unpack("!H", body[:2])[0]
        p.props, pos = decode_properties(body, 2)
        p.codes = list(body[pos:])
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.mid = struct.unpack("!H", body[:2])[0]
        p.reason = 0
        if len(body) > 2:
            p.reason, p.reason_present = body[2], True
        if len(body) > 3:
            p.props, _ = decode_properties(body, 3)
    elif ptype in (DISCONNECT, AUTH):
        p.reason = 0
        if body:
            p.reason, p.reason_present = body[0], True
        if len(body) > 1:
            p.props, _ = decode_properties(body, 1)
    return p


# ---------------------------------------------------------------- client

class RawClient5(raw.RawClient):
    """A RawClient whose received packets are decoded as MQTT 5 (`Packet5`)."""

    connack: Packet5 | None = None

    def _try_parse(self) -> Packet5 | None:
        p = super()._try_parse()  # frames the packet (3.1.1 field decoding is redone below)
        return None if p is None else decode5((p.type << 4) | p.flags, p.body)

    def expect(self, ptype: int, timeout: float = 5.0) -> Packet5:
        p = self.recv(timeout)
        assert p.type == ptype, f"expected {NAMES[ptype]}, got {p!r}"
        return p

    def expect_disconnect(self, reason: int | None = None, timeout: float = 5.0,
                          skip_publishes: bool = False) -> Packet5:
        """Wait for a DISCONNECT (optionally with `reason`), then for the close."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                p = self.recv(max(0.001, deadline - time.monotonic()))
            except Closed:
                raise AssertionError("connection closed without a DISCONNECT") from None
            if skip_publishes and p.type in (PUBLISH, PUBREL):
                continue
            break
        assert p.type == DISCONNECT, f"expected DISCONNECT, got {p!r}"
        if reason is not None:
            assert p.reason == reason, f"DISCONNECT reason {p.reason:#04x}, expected {reason:#04x}: {p!r}"
        assert self.wait_closed(max(0.5, deadline - time.monotonic())) == "closed", \
            "connection still open after the broker's DISCONNECT"
        return p

    def outcome(self, timeout: float = 3.0) -> Packet5 | str:
        """The next packet, or "closed" / "timeout" (for recording what a broker does)."""
        try:
            return self.recv(timeout)
        except Closed:
            return "closed"
        except TimeoutError:
            return "timeout"

    # -- convenience -------------------------------------------------------
    def do_connect5(self, client_id: str = "", clean_start: bool = True, keepalive: int = 60,
                    properties=None, expect_reason: int | None = 0, **kw) -> Packet5:
        self.send(connect5(client_id, clean_start=clean_start, keepalive=keepalive,
                           properties=properties, **kw))
        ack = self.expect(CONNACK)
        if expect_reason is not None:
            assert ack.reason == expect_reason, f"CONNACK {ack!r}, expected reason {expect_reason:#04x}"
        self.connack = ack
        return ack

    def do_subscribe5(self, filters, mid: int = 1, properties=None,
                      expect_codes: list[int] | None = None) -> Packet5:
        self.send(subscribe5(mid, filters, properties))
        ack = self.expect_ack(SUBACK, mid)
        if expect_codes is not None:
            assert ack.codes == expect_codes, ack
        return ack

    def do_unsubscribe5(self, filters, mid: int = 1, properties=None) -> Packet5:
        self.send(unsubscribe5(mid, filters, properties))
        return self.expect_ack(UNSUBACK, mid)

    def do_publish5(self, topic, payload=b"", qos: int = 0, retain: bool = False, mid: int = 1,
                    properties=None, expect_reason: int | None = None) -> Packet5 | None:
        """Publish and complete the sender's QoS flow; returns the PUBACK / PUBREC."""
        self.send(publish5(topic, payload, qos=qos, retain=retain, mid=mid, properties=properties))
        if qos == 0:
            return None
        ack = self.expect_ack(PUBACK if qos == 1 else PUBREC, mid)
        if expect_reason is not None:
            assert ack.reason == expect_reason, ack
        if qos == 2 and ack.reason < 0x80:
            self.send(pubrel5(mid))
            self.expect_ack(PUBCOMP, mid)
        return ack

    def next_publish(self, timeout: float = 5.0, ack: bool = True) -> Packet5:
        """The next PUBLISH (acknowledged if `ack`)."""
        p = self.recv(timeout)
        assert p.type == PUBLISH, f"expected PUBLISH, got {p!r}"
        if ack:
            self.ack_publish(p)
        return p

    def do_disconnect5(self, reason: int | None = None, properties=None) -> None:
        self.try_send(disconnect5(reason, properties))
        self.wait_closed(2, allow_packets=True)
        self.close()


def connected5(port: int, client_id: str = "", clean_start: bool = True, keepalive: int = 60,
               properties=None, host: str = "127.0.0.1", **kw) -> RawClient5:
    """Open a RawClient5 and complete CONNECT/CONNACK (reason 0); the CONNACK is `c.connack`."""
    c = RawClient5(port, host=host)
    c.do_connect5(client_id, clean_start=clean_start, keepalive=keepalive, properties=properties, **kw)
    return c
