"""09: protocol violations. Each one must close the offender's connection while a healthy
subscriber/publisher pair (connected before) keeps working."""
import pytest

import mqtt_raw as raw
from helpers import HealthyPair, unique


@pytest.fixture
def pair(broker):
    p = HealthyPair(broker.port)
    p.check()
    yield p
    p.close()


def assert_closed_after(port, pair, data, connect=True):
    c = raw.connected(port, unique("bad")) if connect else raw.RawClient(port)
    c.send(data)
    # a CONNECT violation may be answered by a refusing CONNACK; nothing else is allowed
    try:
        p = c.recv(3)
    except raw.Closed:
        p = None
    except TimeoutError:
        raise AssertionError("connection still open after protocol violation") from None
    if p is not None:
        assert not connect and p.type == raw.CONNACK and p.rc != 0, f"unexpected {p!r}"
        assert c.wait_closed(3) == "closed"
    pair.check()


# ---- PUBLISH -------------------------------------------------------------------
@pytest.mark.parametrize("topic", [
    pytest.param("a/+/b", id="plus"),
    pytest.param("a/#", id="hash"),
    pytest.param("+", id="plus-alone"),
    pytest.param("", id="empty"),
    pytest.param(b"a/\xff\xfe", id="invalid-utf8"),
    pytest.param(b"a/\xc0\xaf", id="overlong-utf8"),
    pytest.param(b"a/\xed\xa0\x80", id="utf16-surrogate"),
    pytest.param(b"a/\x00/b", id="nul"),
])
@pytest.mark.parametrize("qos", [0, 1])
def test_publish_bad_topic(broker, pair, topic, qos):
    subscriber = raw.connected(broker.port, unique("all"))
    subscriber.do_subscribe([("#", 0)])
    assert_closed_after(broker.port, pair, raw.publish(topic, b"bad", qos=qos, mid=1))
    try:
        while True:
            m = subscriber.recv(0.3)
            assert m.payload != b"bad", f"invalid publish was delivered: {m!r}"
    except TimeoutError:
        pass


def test_publish_qos3(broker, pair):
    assert_closed_after(broker.port, pair, raw.publish("a/b", b"x", qos=3, mid=1))


@pytest.mark.parametrize("qos", [1, 2])
def test_publish_packet_id_zero(broker, pair, qos):
    assert_closed_after(broker.port, pair, raw.publish("a/b", b"x", qos=qos, mid=0))


# ---- SUBSCRIBE / UNSUBSCRIBE / PUBREL reserved flags ---------------------------
@pytest.mark.parametrize("flags", [0x0, 0x3, 0xA])
def test_subscribe_reserved_flags(broker, pair, flags):
    assert_closed_after(broker.port, pair, raw.subscribe(1, [("a/b", 0)], flags=flags))


@pytest.mark.parametrize("flags", [0x0, 0x3])
def test_unsubscribe_reserved_flags(broker, pair, flags):
    assert_closed_after(broker.port, pair, raw.unsubscribe(1, ["a/b"], flags=flags))


@pytest.mark.parametrize("flags", [0x0, 0x3])
def test_pubrel_reserved_flags(broker, pair, flags):
    assert_closed_after(broker.port, pair, raw.pubrel(1, flags=flags))


def test_subscribe_without_filters(broker, pair):
    assert_closed_after(broker.port, pair, raw.subscribe(1, []))


def test_unsubscribe_without_filters(broker, pair):
    assert_closed_after(broker.port, pair, raw.unsubscribe(1, []))


def test_subscribe_requested_qos3(broker, pair):
    assert_closed_after(broker.port, pair, raw.subscribe(1, [("a/b", 3)]))


@pytest.mark.parametrize("filt", ["a/#/b", "#/a", "a/b#"])
def test_subscribe_hash_not_last(broker, pair, filt):
    assert_closed_after(broker.port, pair, raw.subscribe(1, [(filt, 0)]))


def test_subscribe_packet_id_zero(broker, pair):
    assert_closed_after(broker.port, pair, raw.subscribe(0, [("a/b", 0)]))


# ---- framing -------------------------------------------------------------------
def test_remaining_length_five_bytes(broker, pair):
    assert_closed_after(broker.port, pair, bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 16)


@pytest.mark.parametrize("ptype", [0, 15])
def test_reserved_packet_type(broker, pair, ptype):
    assert_closed_after(broker.port, pair, raw.fixed(ptype, 0, b""))


def test_connack_from_client(broker, pair):
    # mosquitto 2.0.11 closes on a client-sent CONNACK but silently ignores client-sent
    # SUBACK/UNSUBACK/PINGRESP, so only CONNACK is part of the contract.
    assert_closed_after(broker.port, pair, raw.connack(False, 0))


# ---- CONNECT -------------------------------------------------------------------
def test_connect_reserved_flag(broker, pair):
    assert_closed_after(broker.port, pair, raw.connect(unique("c"), extra_flags=0x01), connect=False)


def test_connect_password_without_username(broker, pair):
    assert_closed_after(broker.port, pair, raw.connect(unique("c"), password="secret"), connect=False)


@pytest.mark.parametrize("flags", [0x02 | 0x08, 0x02 | 0x10, 0x02 | 0x20],
                         ids=["will-qos1", "will-qos2", "will-retain"])
def test_connect_will_fields_without_will_flag(broker, pair, flags):
    assert_closed_after(broker.port, pair, raw.connect(unique("c"), flags=flags), connect=False)


def test_connect_will_qos3(broker, pair):
    assert_closed_after(broker.port, pair,
                        raw.connect(unique("c"), will_topic="w", will_payload=b"x", will_qos=3),
                        connect=False)


def test_connect_invalid_utf8_client_id(broker, pair):
    assert_closed_after(broker.port, pair, raw.connect(b"bad\xff\xfeid"), connect=False)


def test_connect_truncated(broker, pair):
    full = raw.connect(unique("c"))
    # claims the full length but the body ends early: fix the remaining length to a short body
    body = full[2:2 + 6]
    assert_closed_after(broker.port, pair, raw.fixed(raw.CONNECT, 0, body), connect=False)


def test_connect_nonzero_fixed_header_flags(broker, pair):
    data = bytearray(raw.connect(unique("c")))
    data[0] |= 0x01
    assert_closed_after(broker.port, pair, bytes(data), connect=False)
