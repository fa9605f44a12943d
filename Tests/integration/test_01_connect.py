"""01: CONNECT / CONNACK, protocol versions, client ids, session takeover."""
import pytest

import mqtt_raw as raw
from helpers import assert_broker_healthy, unique


def test_connect_accepted(broker):
    c = raw.RawClient(broker.port)
    c.send(raw.connect(unique("c"), clean=True))
    ack = c.expect(raw.CONNACK)
    assert (ack.rc, ack.session_present) == (0, False)
    assert ack.flags == 0 and len(ack.body) == 2
    c.send(raw.pingreq())
    c.expect(raw.PINGRESP)


def test_mqtt31_client_accepted(broker):
    c = raw.RawClient(broker.port)
    c.send(raw.connect(unique("v31"), proto_name="MQIsdp", proto_level=3))
    ack = c.expect(raw.CONNACK)
    assert ack.rc == 0
    # and it is fully usable
    topic = unique("v31/topic")
    c.do_subscribe([(topic, 1)], expect_codes=[1])
    c.do_publish(topic, b"hello31", qos=1, mid=2)
    p = c.expect(raw.PUBLISH)
    assert (p.topic, p.payload) == (topic, b"hello31")


@pytest.mark.parametrize("level", [2, 6, 255])
def test_unsupported_protocol_level_rc1(broker, level):
    c = raw.RawClient(broker.port)
    c.send(raw.connect(unique("lvl"), proto_level=level))
    ack = c.expect(raw.CONNACK)
    assert ack.rc == 1, ack
    assert ack.session_present is False
    assert c.wait_closed(3) == "closed"


@pytest.mark.ours_only  # our broker speaks 3.1/3.1.1 only; mosquitto also accepts MQTT 5 (level 5)
def test_unknown_protocol_level_rejected_rc1(broker):
    """Level 6 (no such MQTT) gets the 3.1.1 CONNACK 1; level 5 is MQTT 5 (test_23_mqtt5)."""
    c = raw.RawClient(broker.port)
    c.send(raw.connect(unique("v6"), proto_level=6))
    ack = c.expect(raw.CONNACK)
    assert ack.rc == 1, ack
    assert c.wait_closed(3) == "closed"


def test_wrong_protocol_name_closed(broker):
    c = raw.RawClient(broker.port)
    c.send(raw.connect(unique("name"), proto_name="MQTX", proto_level=4))
    assert c.wait_closed(3) == "closed"
    assert_broker_healthy(broker.port)


def test_empty_client_id_persistent_session_rejected_rc2(broker):
    c = raw.RawClient(broker.port)
    c.send(raw.connect("", clean=False))
    ack = c.expect(raw.CONNACK)
    assert ack.rc == 2, ack
    assert ack.session_present is False
    assert c.wait_closed(3) == "closed"


def test_empty_client_id_clean_session_accepted(broker):
    a = raw.connected(broker.port, "", clean=True)
    b = raw.connected(broker.port, "", clean=True)
    # two anonymous clients get distinct identities: neither is taken over
    topic = unique("anon")
    a.do_subscribe([(topic, 0)])
    b.do_subscribe([(topic, 0)])
    b.do_publish(topic, b"x")
    assert a.expect(raw.PUBLISH).payload == b"x"
    assert b.expect(raw.PUBLISH).payload == b"x"


def test_long_client_id_accepted(broker):
    c = raw.RawClient(broker.port)
    c.send(raw.connect("x" * 200 + unique()))
    assert c.expect(raw.CONNACK).rc == 0


@pytest.mark.parametrize("first", [
    pytest.param(raw.pingreq(), id="pingreq"),
    pytest.param(raw.publish("a/b", b"x"), id="publish"),
    pytest.param(raw.subscribe(1, "a/b"), id="subscribe"),
    pytest.param(raw.connack(False, 0), id="connack"),
])
def test_first_packet_not_connect_closed(broker, first):
    c = raw.RawClient(broker.port)
    c.send(first)
    assert c.wait_closed(3) == "closed"
    assert_broker_healthy(broker.port)


def test_second_connect_closed(broker):
    c = raw.connected(broker.port, unique("twice"))
    c.send(raw.connect(unique("twice-again")))
    assert c.wait_closed(3) == "closed"
    assert_broker_healthy(broker.port)


def test_disconnect_closes_connection(broker):
    c = raw.connected(broker.port, unique("bye"))
    c.send(raw.disconnect())
    assert c.wait_closed(3) == "closed"


def _takeover(port, cid, clean_second, rounds_of_idle=0):
    idle = [raw.connected(port, unique("idle")) for _ in range(rounds_of_idle)]
    old = raw.connected(port, cid, clean=False)
    topic = f"takeover/{cid}"
    old.do_subscribe([(topic, 1)], expect_codes=[1])
    idle += [raw.connected(port, unique("idle")) for _ in range(rounds_of_idle)]
    new = raw.RawClient(port)
    new.send(raw.connect(cid, clean=clean_second))
    ack = new.expect(raw.CONNACK)
    assert ack.rc == 0
    assert old.wait_closed(3) == "closed", "old connection must be closed on takeover"
    return old, new, ack, topic, idle


def test_takeover_persistent_session_present(broker):
    cid = unique("take")
    old, new, ack, topic, _ = _takeover(broker.port, cid, clean_second=False)
    assert ack.session_present is True
    # the session (its subscription) moved to the new connection
    with raw.connected(broker.port, unique("pub")) as p:
        p.do_publish(topic, b"after-takeover", qos=1)
    m = new.expect(raw.PUBLISH)
    assert (m.topic, m.payload, m.qos) == (topic, b"after-takeover", 1)


def test_takeover_clean_session_discards(broker):
    cid = unique("take-clean")
    old, new, ack, topic, _ = _takeover(broker.port, cid, clean_second=True)
    assert ack.session_present is False
    with raw.connected(broker.port, unique("pub")) as p:
        p.do_publish(topic, b"nobody", qos=1)
    new.expect_nothing(1.0)


def test_takeover_repeated_across_shards(broker):
    """Repeat takeovers with varying numbers of idle connections in between so that the
    old and new connection of a client id land on different shards (ours: --shards 4)."""
    for i in range(12):
        cid = unique(f"xs{i}")
        old, new, ack, topic, idle = _takeover(broker.port, cid, clean_second=False, rounds_of_idle=i % 4)
        assert ack.session_present is True
        with raw.connected(broker.port, unique("pub")) as p:
            p.do_publish(topic, f"m{i}".encode(), qos=1)
        m = new.expect(raw.PUBLISH)
        assert m.payload == f"m{i}".encode()
        new.send(raw.puback(m.mid))
        new.do_disconnect()
        for c in idle:
            c.do_disconnect()
    assert_broker_healthy(broker.port)
