"""23: MQTT 5.0: CONNACK properties, message properties, topic aliases, subscription options and
identifiers, reason codes, session and message expiry, will delay, flow control, authentication.

Proven against mosquitto 2.0.11. Where mosquitto deviates from the spec (or from the behaviour
ours implements) the test is ours_only and its comment says what mosquitto does instead.
Reason codes are written in hex as in the spec (MQTT 5.0 §2.4).
"""
from __future__ import annotations

import signal
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties

import mqtt5_raw as m5
import mqtt_raw as raw
from conftest import free_port, is_mosquitto
from helpers import MosquittoSub, PahoClient, bcrypt_hash, mosquitto_pub, unique
from test_13_transports import Ports, certs, start_all, tls_setup, ws_setup  # noqa: F401 (certs: fixture)

SE = m5.SESSION_EXPIRY_INTERVAL


# ---------------------------------------------------------------- helpers

def Paho5(port: int, client_id: str | None = None, **kw) -> PahoClient:
    """paho-mqtt with protocol=MQTTv5: PahoClient's queue and waits, clean_start, CONNECT
    properties, subscribe options and PUBLISH properties."""
    return PahoClient(port, client_id if client_id is not None else unique("paho5"), protocol=mqtt.MQTTv5, **kw)


def paho_props(packet_type=PacketTypes.PUBLISH, **kw) -> PahoProperties:
    p = PahoProperties(packet_type)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def drain(c: m5.RawClient5, timeout: float = 0.5, ack: bool = True) -> list[m5.Packet5]:
    """Every packet arriving until `timeout` of silence (QoS 1/2 PUBLISH acknowledged if `ack`);
    the connection must stay open."""
    out = []
    while True:
        try:
            p = c.recv(timeout)
        except TimeoutError:
            return out
        except raw.Closed:
            raise AssertionError(f"connection closed; received before: {out!r}") from None
        if p.type == m5.PUBLISH and ack:
            c.ack_publish(p)
        out.append(p)


# Properties of one application message, in wire order with repeated user property keys.
MESSAGE_PROPS = [
    (m5.USER_PROPERTY, ("k", "1")),
    (m5.CONTENT_TYPE, "text/plain; charset=utf-8"),
    (m5.USER_PROPERTY, ("k", "2")),
    (m5.RESPONSE_TOPIC, "reply/here"),
    (m5.CORRELATION_DATA, b"\x00\x01corr\xff"),
    (m5.PAYLOAD_FORMAT_INDICATOR, 1),
    (m5.USER_PROPERTY, ("a", "\u00e9t\u00e9")),
    (m5.USER_PROPERTY, ("k", "1")),  # an exact duplicate pair is kept too
]
FORWARDED = [m5.USER_PROPERTY, m5.CONTENT_TYPE, m5.RESPONSE_TOPIC, m5.CORRELATION_DATA,
             m5.PAYLOAD_FORMAT_INDICATOR]


def assert_message_props(p: m5.Packet5, sent=MESSAGE_PROPS) -> None:
    """User properties unchanged and in order; the other properties unchanged (the spec leaves
    the relative order of different property kinds open)."""
    assert p.props.user == [v for k, v in sent if k == m5.USER_PROPERTY], p
    for pid in FORWARDED:
        if pid != m5.USER_PROPERTY:
            assert p.props.all(pid) == [v for k, v in sent if k == pid], (hex(pid), p)


def persistent(port: int, cid: str, expiry: int = 60, clean_start: bool = False, **kw) -> m5.RawClient5:
    return m5.connected5(port, cid, clean_start=clean_start, properties={SE: expiry}, **kw)


def assert_closed_without_packets(c: m5.RawClient5, timeout: float = 3.0) -> None:
    assert c.wait_closed(timeout) == "closed"


# ---------------------------------------------------------------- CONNECT / CONNACK

def test_connect_v5_connack_success(broker):
    c = m5.RawClient5(broker.port)
    c.send(m5.connect5(unique("v5")))
    ack = c.expect(m5.CONNACK)
    assert (ack.reason, ack.session_present) == (0x00, False), ack
    assert m5.ASSIGNED_CLIENT_IDENTIFIER not in ack.props  # the client chose its id
    c.send(raw.pingreq())
    assert c.expect(m5.PINGRESP)
    c.do_disconnect5()


@pytest.mark.parametrize("kind", ["mqtt", "mqtts", "ws", "wss"])
def test_v5_on_every_transport(broker_factory, certs, kind):
    b, ports = start_all5(broker_factory, certs)
    t = unique(kind)
    c = client5_on(kind, ports, certs)
    try:
        assert c.connect_rc == 0
        assert c.subscribe(f"{t}/#", qos=1) == [1]
        props = paho_props(UserProperty=[("via", kind), ("n", "1")], ContentType="x/y")
        c.publish(f"{t}/x", b"hello " + kind.encode(), qos=1, properties=props)
        m = c.get()
        assert (m.topic, m.payload, m.qos) == (f"{t}/x", b"hello " + kind.encode(), 1)
        assert m.properties.UserProperty == [("via", kind), ("n", "1")]
        assert m.properties.ContentType == "x/y"
    finally:
        c.stop()


def test_empty_client_id_gets_assigned_identifier(broker):
    ids = []
    for _ in range(2):
        c = m5.connected5(broker.port, "", clean_start=True)
        assigned = c.connack.props.get(m5.ASSIGNED_CLIENT_IDENTIFIER)
        assert isinstance(assigned, str) and assigned, c.connack
        ids.append(assigned)
        c.do_disconnect5()
    assert ids[0] != ids[1]


@pytest.mark.parametrize("expiry", [None, 60], ids=["no-session-expiry", "session-expiry-60"])
def test_empty_client_id_without_clean_start_is_accepted(broker, expiry):
    # MQTT 5 (unlike 3.1.1, where CONNACK 2 is due) has no clean-start condition on an empty
    # client id: mosquitto accepts it and assigns an id, and so do we.
    c = m5.RawClient5(broker.port)
    c.send(m5.connect5("", clean_start=False, properties=None if expiry is None else {SE: expiry}))
    ack = c.expect(m5.CONNACK)
    assert (ack.reason, ack.session_present) == (0x00, False), ack
    assert ack.props.get(m5.ASSIGNED_CLIENT_IDENTIFIER), ack
    # the connection works
    t = unique("anon")
    c.do_subscribe5([(t, 1)], expect_codes=[1])
    c.do_publish5(t, b"self", qos=1, mid=2)
    assert c.next_publish().payload == b"self"
    c.do_disconnect5()


def test_keepalive_above_max_gets_server_keep_alive(broker_factory):
    b = broker_factory(max_keepalive=30)
    c = m5.RawClient5(b.port)
    c.send(m5.connect5(unique("ka"), keepalive=100))
    ack = c.expect(m5.CONNACK)
    assert ack.reason == 0x00, ack
    assert ack.props.get(m5.SERVER_KEEP_ALIVE) == 30, ack
    c.do_disconnect5()
    # a keepalive within the maximum is kept: no Server Keep Alive, or the same value
    c = m5.RawClient5(b.port)
    c.send(m5.connect5(unique("ka"), keepalive=20))
    ack = c.expect(m5.CONNACK)
    assert ack.reason == 0x00 and ack.props.get(m5.SERVER_KEEP_ALIVE, 20) == 20, ack
    c.do_disconnect5()


def test_connack_advertises_limits(broker_factory):
    # mosquitto: Topic Alias Maximum 10, Receive Maximum = max_inflight_messages (20 in the
    # fixture's config), Maximum Packet Size = max_packet_size when set.
    b = broker_factory(max_packet_size=5000)
    c = m5.connected5(b.port, unique("adv"))
    props = c.connack.props
    assert props.get(m5.TOPIC_ALIAS_MAXIMUM, 0) > 0, props
    assert 0 < props.get(m5.RECEIVE_MAXIMUM, 0) < 65535, props
    assert props.get(m5.MAXIMUM_PACKET_SIZE) == 5000, props
    assert m5.MAXIMUM_QOS not in props, props  # QoS 2 is supported
    for pid in (m5.RETAIN_AVAILABLE, m5.WILDCARD_SUBSCRIPTION_AVAILABLE,
                m5.SUBSCRIPTION_IDENTIFIER_AVAILABLE, m5.SHARED_SUBSCRIPTION_AVAILABLE):
        assert props.get(pid, 1) == 1, (hex(pid), props)  # supported: absent or 1
    c.do_disconnect5()


@pytest.mark.ours_only  # our defaults and limits keys (mosquitto: receive maximum = max_inflight_messages)
def test_connack_advertises_our_defaults_and_configured_limits(broker, broker_factory):
    c = m5.connected5(broker.port, unique("adv"))
    props = c.connack.props
    assert props.get(m5.RECEIVE_MAXIMUM) == 1000, props
    assert props.get(m5.TOPIC_ALIAS_MAXIMUM) == 10, props
    assert props.get(m5.MAXIMUM_PACKET_SIZE) == 1048576, props
    c.do_disconnect5()
    b = broker_factory(max_packet_size=4096, ours_extra={"limits": {"receive_maximum": 7, "topic_alias_maximum": 3}})
    c = m5.connected5(b.port, unique("adv"))
    props = c.connack.props
    assert (props.get(m5.RECEIVE_MAXIMUM), props.get(m5.TOPIC_ALIAS_MAXIMUM),
            props.get(m5.MAXIMUM_PACKET_SIZE)) == (7, 3, 4096), props
    c.do_disconnect5()


# ---------------------------------------------------------------- message properties

@pytest.mark.parametrize("qos", [0, 1, 2])
def test_message_properties_forwarded_unchanged(broker, qos):
    t = unique("props")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(t, m5.sub_options(qos))], expect_codes=[qos])
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, "payload \u00e9".encode(), qos=qos, mid=5, properties=MESSAGE_PROPS,
                  expect_reason=0x00)
    m = s.next_publish()
    assert (m.topic, m.payload, m.qos) == (t, "payload \u00e9".encode(), qos), m
    assert_message_props(m)
    assert m5.TOPIC_ALIAS not in m.props and m5.SUBSCRIPTION_IDENTIFIER not in m.props, m
    s.do_disconnect5()
    p.do_disconnect5()


def test_message_properties_kept_on_retained_message(broker):
    t = unique("ret")
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"kept", qos=1, retain=True, properties=MESSAGE_PROPS)
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(t, m5.sub_options(1))])
    m = s.next_publish()
    assert (m.topic, m.payload, m.retain) == (t, b"kept", True), m
    assert_message_props(m)


def test_will_properties_forwarded(broker):
    t = unique("will")
    w = m5.connected5(broker.port, unique("watch"))
    w.do_subscribe5([(t, m5.sub_options(1))])
    c = m5.connected5(broker.port, unique("will"), will=(t, b"gone", 1), will_properties=MESSAGE_PROPS)
    c.abort()
    m = w.next_publish()
    assert (m.topic, m.payload, m.qos) == (t, b"gone", 1), m
    assert_message_props(m)


def test_paho_request_response_properties(broker):
    t = unique("req")
    responder = Paho5(broker.port)
    requester = Paho5(broker.port)
    try:
        responder.subscribe(t, qos=1)
        requester.subscribe(f"{t}/reply", qos=1)
        requester.publish(t, b"ping", qos=1, properties=paho_props(
            ResponseTopic=f"{t}/reply", CorrelationData=b"id-42", UserProperty=[("x", "1"), ("x", "2")]))
        req = responder.get()
        assert req.properties.ResponseTopic == f"{t}/reply"
        assert req.properties.CorrelationData == b"id-42"
        assert req.properties.UserProperty == [("x", "1"), ("x", "2")]
        responder.publish(req.properties.ResponseTopic, b"pong", qos=1,
                          properties=paho_props(CorrelationData=req.properties.CorrelationData))
        rep = requester.get()
        assert (rep.payload, rep.properties.CorrelationData) == (b"pong", b"id-42")
    finally:
        responder.stop()
        requester.stop()


def test_mosquitto_clients_user_properties(broker):
    t = unique("cli")
    sub = MosquittoSub(broker.port, [t], qos=1, extra=["-V", "mqttv5", "-F", "%t|%P|%C|%R|%p"])
    try:
        # mosquitto_sub subscribes asynchronously: a retained message is delivered either way
        mosquitto_pub(broker.port, t, "hello", qos=1, retain=True, extra=[
            "-V", "mqttv5", "-D", "publish", "user-property", "k", "1", "-D", "publish", "user-property", "k", "2",
            "-D", "publish", "user-property", "a", "z", "-D", "publish", "content-type", "text/x",
            "-D", "publish", "response-topic", "r/t"])
        assert sub.get_line() == f"{t}|k:1 k:2 a:z|text/x|r/t|hello"
        c = m5.connected5(broker.port, unique("p"))
        c.do_publish5(t, b"raw", qos=1, properties=[(m5.USER_PROPERTY, ("z", "9")), (m5.USER_PROPERTY, ("y", "8"))])
        assert sub.get_line() == f"{t}|z:9 y:8|||raw"
        c.do_publish5(t, b"", qos=1, retain=True)  # clear the retained message
        c.do_disconnect5()
    finally:
        sub.stop()


# ---------------------------------------------------------------- message expiry

def test_message_expiry_forwarded(broker):
    t = unique("exp")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(t, m5.sub_options(1))])
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"x", qos=1, properties={m5.MESSAGE_EXPIRY_INTERVAL: 60})
    p.do_publish5(t, b"y", qos=1, mid=2)
    m = s.next_publish()
    assert 0 < m.props.get(m5.MESSAGE_EXPIRY_INTERVAL) <= 60, m
    m = s.next_publish()
    assert m5.MESSAGE_EXPIRY_INTERVAL not in m.props, m  # no expiry: none added


def test_message_expiry_while_queued_offline(broker):
    cid, t = unique("off"), unique("off")
    c = persistent(broker.port, cid)
    c.do_subscribe5([(t, m5.sub_options(1))])
    c.do_disconnect5()
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"short", qos=1, mid=1, properties={m5.MESSAGE_EXPIRY_INTERVAL: 1})
    p.do_publish5(t, b"long", qos=1, mid=2, properties={m5.MESSAGE_EXPIRY_INTERVAL: 60})
    p.do_publish5(t, b"forever", qos=1, mid=3)
    time.sleep(2.5)  # the offline time is what is tested
    c = persistent(broker.port, cid)
    assert c.connack.session_present is True
    got = drain(c, 0.7)
    assert [m.payload for m in got] == [b"long", b"forever"], got
    assert 0 < got[0].props.get(m5.MESSAGE_EXPIRY_INTERVAL) < 60, got[0]
    assert m5.MESSAGE_EXPIRY_INTERVAL not in got[1].props, got[1]


# ---------------------------------------------------------------- topic aliases (client to broker)

def test_topic_alias_inbound(broker):
    t = unique("alias")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(f"{t}/#", m5.sub_options(1))])
    p = m5.connected5(broker.port, unique("p"))
    assert p.connack.props.get(m5.TOPIC_ALIAS_MAXIMUM, 0) >= 2
    p.do_publish5(f"{t}/one", b"1", qos=1, mid=1, properties={m5.TOPIC_ALIAS: 1})
    p.do_publish5("", b"2", qos=1, mid=2, properties={m5.TOPIC_ALIAS: 1})
    p.do_publish5(f"{t}/two", b"3", qos=0, properties={m5.TOPIC_ALIAS: 2})
    p.do_publish5(f"{t}/three", b"4", qos=1, mid=3, properties={m5.TOPIC_ALIAS: 1})  # remapped
    p.do_publish5("", b"5", qos=1, mid=4, properties={m5.TOPIC_ALIAS: 1})
    p.do_publish5("", b"6", qos=1, mid=5, properties={m5.TOPIC_ALIAS: 2})
    got = [(m.topic, m.payload) for m in (s.next_publish() for _ in range(6))]
    assert got == [(f"{t}/one", b"1"), (f"{t}/one", b"2"), (f"{t}/two", b"3"), (f"{t}/three", b"4"),
                   (f"{t}/three", b"5"), (f"{t}/two", b"6")]
    # aliases do not survive the connection
    p.do_disconnect5()
    p = m5.connected5(broker.port, unique("p"))
    p.send(m5.publish5("", b"7", properties={m5.TOPIC_ALIAS: 1}))
    p.expect_disconnect(m5.PROTOCOL_ERROR)
    s.expect_nothing(0.3)


@pytest.mark.ours_only  # mosquitto 2.0.11 never uses topic aliases towards its clients
def test_broker_assigns_topic_aliases_when_the_client_allows(broker):
    t = unique("alias-out")
    s = m5.connected5(broker.port, unique("s"), properties={m5.TOPIC_ALIAS_MAXIMUM: 2})
    s.do_subscribe5([(f"{t}/#", 0)])
    plain = m5.connected5(broker.port, unique("plain"))
    plain.do_subscribe5([(f"{t}/#", 0)])
    p = m5.connected5(broker.port, unique("p"))
    topics = [f"{t}/a", f"{t}/a", f"{t}/b", f"{t}/c", f"{t}/c"]
    for topic in topics:
        p.do_publish5(topic, b"x")
    got = [s.next_publish() for _ in topics]
    # The first two topics get aliases 1 and 2 and then travel as the alias alone; the table is
    # full for the third.
    assert [(g.topic, g.props.get(m5.TOPIC_ALIAS)) for g in got] == [
        (f"{t}/a", 1), ("", 1), (f"{t}/b", 2), (f"{t}/c", None), (f"{t}/c", None)]
    # A client that allows none gets whole topics.
    assert [(g.topic, m5.TOPIC_ALIAS in g.props) for g in (plain.next_publish() for _ in topics)] == [
        (topic, False) for topic in topics]


@pytest.mark.ours_only  # mosquitto sends DISCONNECT 0x81 (Malformed Packet) for topic alias 0
def test_topic_alias_zero_is_invalid(broker):
    p = m5.connected5(broker.port, unique("p"))
    p.send(m5.publish5(unique("t"), b"x", properties={m5.TOPIC_ALIAS: 0}))
    p.expect_disconnect(m5.TOPIC_ALIAS_INVALID)


def test_topic_alias_above_maximum_is_invalid(broker):
    p = m5.connected5(broker.port, unique("p"))
    maximum = p.connack.props.get(m5.TOPIC_ALIAS_MAXIMUM, 0)
    p.send(m5.publish5(unique("t"), b"x", properties={m5.TOPIC_ALIAS: maximum + 1}))
    p.expect_disconnect(m5.TOPIC_ALIAS_INVALID)


def test_unknown_topic_alias_is_protocol_error(broker):
    w = m5.connected5(broker.port, unique("w"))
    w.do_subscribe5([("#", 0)])
    p = m5.connected5(broker.port, unique("p"))
    p.send(m5.publish5("", b"x", qos=1, mid=1, properties={m5.TOPIC_ALIAS: 1}))
    p.expect_disconnect(m5.PROTOCOL_ERROR)
    w.expect_nothing(0.3)


# ---------------------------------------------------------------- payload format indicator

@pytest.mark.ours_only  # mosquitto does not check payloads: it acknowledges (0x00 / 0x10) and delivers
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_invalid_utf8_payload_with_format_indicator(broker, qos):
    t = unique("pfi")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(t, m5.sub_options(2))])
    p = m5.connected5(broker.port, unique("p"))
    p.send(m5.publish5(t, b"ok \xff\xfe", qos=qos, mid=7, properties={m5.PAYLOAD_FORMAT_INDICATOR: 1}))
    if qos == 0:
        p.expect_disconnect(m5.PAYLOAD_FORMAT_INVALID)
    else:
        ack = p.expect(m5.PUBACK if qos == 1 else m5.PUBREC)
        assert (ack.mid, ack.reason) == (7, m5.PAYLOAD_FORMAT_INVALID), ack
        # still connected; a valid UTF-8 payload with the indicator goes through
        p.do_publish5(t, "fine \u00e9".encode(), qos=qos, mid=8, properties={m5.PAYLOAD_FORMAT_INDICATOR: 1},
                      expect_reason=0x00)
        m = s.next_publish()
        assert m.payload == "fine \u00e9".encode(), m
    s.expect_nothing(0.5)


# ---------------------------------------------------------------- subscription options

def test_no_local(broker):
    t = unique("nl")
    c = m5.connected5(broker.port, unique("c"))
    c.do_subscribe5([(t, m5.sub_options(1, no_local=True))], expect_codes=[1])
    other = m5.connected5(broker.port, unique("o"))
    c.do_publish5(t, b"own", qos=1, mid=2)
    other.do_publish5(t, b"other", qos=1, mid=3)
    got = drain(c, 0.7)
    assert [m.payload for m in got] == [b"other"], got


def test_retain_as_published(broker):
    t = unique("rap")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(f"{t}/kept", m5.sub_options(1, retain_as_published=True)),
                     (f"{t}/cleared", m5.sub_options(1))], expect_codes=[1, 1])
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(f"{t}/kept", b"a", qos=1, retain=True, mid=1)
    assert (m := s.next_publish()).retain is True, m
    p.do_publish5(f"{t}/cleared", b"b", qos=1, retain=True, mid=2)
    assert (m := s.next_publish()).retain is False, m
    p.do_publish5(f"{t}/kept", b"c", qos=1, retain=False, mid=3)
    assert (m := s.next_publish()).retain is False, m
    # retained messages sent because of a subscribe always carry the flag
    late = m5.connected5(broker.port, unique("late"))
    late.do_subscribe5([(f"{t}/cleared", m5.sub_options(1))])
    assert (m := late.next_publish()).retain is True, m
    p.do_publish5(f"{t}/kept", b"", qos=1, retain=True, mid=4)
    p.do_publish5(f"{t}/cleared", b"", qos=1, retain=True, mid=5)


@pytest.mark.parametrize("handling,first,again", [(0, 1, 1), (1, 1, 0), (2, 0, 0)])
def test_retain_handling(broker, handling, first, again):
    t = unique("rh")
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"R", qos=1, retain=True)
    c = m5.connected5(broker.port, unique("c"))
    c.do_subscribe5([(t, m5.sub_options(1, retain_handling=handling))], mid=1, expect_codes=[1])
    got = drain(c, 0.5)
    assert [(m.payload, m.retain) for m in got] == [(b"R", True)] * first, got
    c.do_subscribe5([(t, m5.sub_options(1, retain_handling=handling))], mid=2, expect_codes=[1])
    got = drain(c, 0.5)
    assert [(m.payload, m.retain) for m in got] == [(b"R", True)] * again, got
    # live messages flow whatever the retain handling
    p.do_publish5(t, b"live", qos=1, mid=2)
    assert c.next_publish().payload == b"live"
    p.do_publish5(t, b"", qos=1, retain=True, mid=3)


# ---------------------------------------------------------------- subscription identifiers

def test_subscription_identifier_on_every_delivery(broker):
    t = unique("sid")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(f"{t}/a/#", m5.sub_options(1))], mid=1, properties={m5.SUBSCRIPTION_IDENTIFIER: 5})
    s.do_subscribe5([(f"{t}/b", m5.sub_options(1))], mid=2, properties={m5.SUBSCRIPTION_IDENTIFIER: 268435455})
    s.do_subscribe5([(f"{t}/c", m5.sub_options(1))], mid=3)
    p = m5.connected5(broker.port, unique("p"))
    for i, (topic, qos) in enumerate([(f"{t}/a/x", 0), (f"{t}/a/y", 1), (f"{t}/b", 1), (f"{t}/c", 1)]):
        p.do_publish5(topic, b"m", qos=qos, mid=i + 1)
    got = [(m.topic, m.props.subscription_ids) for m in (s.next_publish() for _ in range(4))]
    assert got == [(f"{t}/a/x", [5]), (f"{t}/a/y", [5]), (f"{t}/b", [268435455]), (f"{t}/c", [])]
    # subscribing again replaces the identifier (and removes it when absent)
    s.do_subscribe5([(f"{t}/a/#", m5.sub_options(1))], mid=4, properties={m5.SUBSCRIPTION_IDENTIFIER: 6})
    s.do_subscribe5([(f"{t}/b", m5.sub_options(1))], mid=5)
    p.do_publish5(f"{t}/a/z", b"m", qos=1, mid=9)
    p.do_publish5(f"{t}/b", b"m", qos=1, mid=10)
    got = [(m.topic, m.props.subscription_ids) for m in (s.next_publish() for _ in range(2))]
    assert got == [(f"{t}/a/z", [6]), (f"{t}/b", [])]


def test_overlapping_subscriptions_carry_all_identifiers(broker):
    # Both forms are allowed (§3.3.4): one PUBLISH with every matching identifier, or one
    # PUBLISH per subscription with its own identifier (what mosquitto does).
    t = unique("sid")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(f"{t}/#", m5.sub_options(1))], mid=1, properties={m5.SUBSCRIPTION_IDENTIFIER: 5})
    s.do_subscribe5([(f"{t}/+", m5.sub_options(1))], mid=2, properties={m5.SUBSCRIPTION_IDENTIFIER: 7})
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(f"{t}/x", b"both", qos=1)
    got = drain(s, 0.7)
    assert got and all(m.payload == b"both" for m in got), got
    ids = [i for m in got for i in m.props.subscription_ids]
    assert sorted(ids) == [5, 7], got
    if len(got) > 1:
        assert all(len(m.props.subscription_ids) == 1 for m in got), got
    p.do_publish5(f"{t}/x/y", b"one", qos=1, mid=2)  # only the first matches
    got = drain(s, 0.7)
    assert [(m.payload, m.props.subscription_ids) for m in got] == [(b"one", [5])], got


@pytest.mark.ours_only  # mosquitto sends one PUBLISH per matching subscription, each with its own id
def test_overlapping_subscriptions_one_publish_with_both_identifiers(broker):
    t = unique("sid")
    s = m5.connected5(broker.port, unique("s"))
    s.do_subscribe5([(f"{t}/#", m5.sub_options(1))], mid=1, properties={m5.SUBSCRIPTION_IDENTIFIER: 5})
    s.do_subscribe5([(f"{t}/+", m5.sub_options(2))], mid=2, properties={m5.SUBSCRIPTION_IDENTIFIER: 7})
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(f"{t}/x", b"both", qos=2)
    got = drain(s, 0.7)
    assert len(got) == 1, got
    assert (sorted(got[0].props.subscription_ids), got[0].qos) == ([5, 7], 2), got


def test_shared_subscription_carries_its_identifier(broker):
    t = unique("shared-id")
    member = m5.connected5(broker.port, unique("m"))
    member.do_subscribe5([(f"$share/g/{t}", 1)], properties={m5.SUBSCRIPTION_IDENTIFIER: 7})
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"one", qos=1, mid=1)
    got = member.next_publish()
    assert (got.payload, got.props.subscription_ids) == (b"one", [7]), got


@pytest.mark.ours_only  # mosquitto sends DISCONNECT 0x81 (Malformed Packet) instead of 0x82
def test_subscription_identifier_zero_is_protocol_error(broker):
    c = m5.connected5(broker.port, unique("s"))
    c.send(m5.subscribe5(1, [(unique("t"), 0)], properties={m5.SUBSCRIPTION_IDENTIFIER: 0}))
    c.expect_disconnect(m5.PROTOCOL_ERROR)


# ---------------------------------------------------------------- SUBACK / UNSUBACK

def test_suback_granted_qos(broker):
    t = unique("sub")
    c = m5.connected5(broker.port, unique("s"))
    ack = c.do_subscribe5([(f"{t}/0", m5.sub_options(0)), (f"{t}/1", m5.sub_options(1)),
                           (f"{t}/2", m5.sub_options(2)), (f"{t}/+", m5.sub_options(2, no_local=True)),
                           (f"$share/g/{t}/s", m5.sub_options(1))], mid=9)
    assert ack.codes == [0x00, 0x01, 0x02, 0x02, 0x01], ack


INVALID_FILTERS = ["a/#/b", "a/b#", "a+/b", "#/a"]


@pytest.mark.parametrize("bad", INVALID_FILTERS)
def test_invalid_topic_filter_closes(broker, bad):
    # No SUBACK (not even 0x8F for the bad filter alone): a DISCONNECT with an error reason,
    # then the close, also when the SUBSCRIBE carries a valid filter too. Like the 3.1.1
    # decision (mosquitto closes, we follow). The reason: see the next test.
    c = m5.connected5(broker.port, unique("s"))
    c.send(m5.subscribe5(1, [(unique("ok"), 0), (bad, 0)]))
    p = c.expect_disconnect()
    assert p.reason in (m5.MALFORMED_PACKET, m5.PROTOCOL_ERROR), p


@pytest.mark.ours_only  # mosquitto sends 0x81 (Malformed Packet); the filter parses, so by §1.2 it is 0x82
@pytest.mark.parametrize("bad", INVALID_FILTERS)
def test_invalid_topic_filter_is_protocol_error(broker, bad):
    c = m5.connected5(broker.port, unique("s"))
    c.send(m5.subscribe5(1, [(unique("ok"), 0), (bad, 0)]))
    c.expect_disconnect(m5.PROTOCOL_ERROR)


@pytest.mark.ours_only  # mosquitto grants it (SUBACK 0x00) although §3.8.3.1 makes it a Protocol Error
def test_shared_subscription_with_no_local_is_protocol_error(broker):
    c = m5.connected5(broker.port, unique("s"))
    c.send(m5.subscribe5(1, [(f"$share/g/{unique('t')}", m5.sub_options(1, no_local=True))]))
    c.expect_disconnect(m5.PROTOCOL_ERROR)


def test_unsuback_reason_codes(broker):
    t = unique("unsub")
    c = m5.connected5(broker.port, unique("s"))
    c.do_subscribe5([(f"{t}/a", 1), (f"{t}/b", 0)])
    ack = c.do_unsubscribe5([f"{t}/a", f"{t}/none", f"{t}/b"], mid=4)
    assert ack.codes == [0x00, m5.NO_SUBSCRIPTION_EXISTED, 0x00], ack
    ack = c.do_unsubscribe5([f"{t}/a"], mid=5)
    assert ack.codes == [m5.NO_SUBSCRIPTION_EXISTED], ack


# ---------------------------------------------------------------- session expiry

def test_session_expiry_keeps_session_and_queue(broker):
    cid, t = unique("se"), unique("se")
    c = persistent(broker.port, cid, 60)
    assert c.connack.session_present is False
    c.do_subscribe5([(t, m5.sub_options(1))], properties={m5.SUBSCRIPTION_IDENTIFIER: 3})
    c.do_disconnect5()
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"queued", qos=1, properties=[(m5.USER_PROPERTY, ("q", "1"))])
    c = persistent(broker.port, cid, 60)
    assert c.connack.session_present is True, c.connack
    m = c.next_publish()
    assert (m.payload, m.qos, m.props.user, m.props.subscription_ids) == (b"queued", 1, [("q", "1")], [3]), m
    c.do_disconnect5()
    # clean start discards it
    c = m5.connected5(broker.port, cid, clean_start=True, properties={SE: 60})
    assert c.connack.session_present is False
    c.do_disconnect5()


@pytest.mark.parametrize("expiry", [None, 0], ids=["absent", "zero"])
def test_session_expiry_zero_ends_session_at_disconnect(broker, expiry):
    cid, t = unique("se0"), unique("se0")
    props = None if expiry is None else {SE: expiry}
    c = m5.connected5(broker.port, cid, clean_start=False, properties=props)
    c.do_subscribe5([(t, 1)])
    c.do_disconnect5()
    c = m5.connected5(broker.port, cid, clean_start=False, properties={SE: 60})
    assert c.connack.session_present is False, c.connack
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"nobody", qos=1)
    c.expect_nothing(0.5)  # the subscription went with the session


def test_session_expiry_one_second(broker):
    cid = unique("se1")
    c = persistent(broker.port, cid, 1)
    c.do_subscribe5([(unique("t"), 1)])
    c.abort()
    time.sleep(2.5)
    c = persistent(broker.port, cid, 1)
    assert c.connack.session_present is False, c.connack
    c.do_disconnect5()
    # and within the interval it is still there
    c = persistent(broker.port, cid, 3)
    c.do_disconnect5()
    time.sleep(0.5)
    c = persistent(broker.port, cid, 3)
    assert c.connack.session_present is True, c.connack
    c.do_disconnect5()


def test_disconnect_can_shorten_session_expiry(broker):
    cid = unique("short")
    c = persistent(broker.port, cid, 60)
    c.do_disconnect5(0x00, {SE: 0})
    c = persistent(broker.port, cid, 60)
    assert c.connack.session_present is False, c.connack
    c.do_disconnect5()


def test_disconnect_setting_session_expiry_from_zero_is_protocol_error(broker):
    c = m5.connected5(broker.port, unique("se"), clean_start=True)  # session expiry absent = 0
    c.send(m5.disconnect5(0x00, {SE: 30}))
    c.expect_disconnect(m5.PROTOCOL_ERROR)


# ---------------------------------------------------------------- will

def will_watcher(port: int, topic: str) -> m5.RawClient5:
    w = m5.connected5(port, unique("watch"))
    w.do_subscribe5([(topic, m5.sub_options(1))], expect_codes=[1])
    return w


def test_disconnect_with_will_message_publishes_will(broker):
    t = unique("will")
    w = will_watcher(broker.port, t)
    c = m5.connected5(broker.port, unique("c"), will=(t, b"on purpose", 1))
    c.do_disconnect5(m5.DISCONNECT_WITH_WILL)
    m = w.next_publish()
    assert (m.topic, m.payload) == (t, b"on purpose"), m


@pytest.mark.parametrize("reason", [None, 0x00], ids=["short-form", "reason-0"])
def test_normal_disconnect_discards_will(broker, reason):
    t = unique("will")
    w = will_watcher(broker.port, t)
    c = m5.connected5(broker.port, unique("c"), will=(t, b"no", 1))
    c.do_disconnect5(reason)
    w.expect_nothing(1.0)


def test_will_delay_interval(broker):
    # The session outlives the delay (session expiry 60): with session expiry 0 the session,
    # and so the delay, ends at the close (see the next tests).
    t = unique("will")
    w = will_watcher(broker.port, t)
    c = persistent(broker.port, unique("c"), 60, clean_start=True, will=(t, b"late", 1),
                   will_properties={m5.WILL_DELAY_INTERVAL: 2})
    c.abort()
    start = time.monotonic()
    w.expect_nothing(1.5)
    m = w.next_publish(timeout=3.0)
    elapsed = time.monotonic() - start
    assert m.payload == b"late"
    assert 1.5 <= elapsed <= 4.0, f"will published after {elapsed:.2f}s"


def test_will_delay_cancelled_by_reconnect(broker):
    t, cid = unique("will"), unique("c")
    w = will_watcher(broker.port, t)
    c = persistent(broker.port, cid, 60, will=(t, b"never", 1), will_properties={m5.WILL_DELAY_INTERVAL: 2})
    c.abort()
    time.sleep(0.5)
    c = persistent(broker.port, cid, 60)
    assert c.connack.session_present is True
    w.expect_nothing(2.5)
    c.do_disconnect5()
    w.expect_nothing(0.3)  # the new connection has no will


def test_will_delay_longer_than_session_expiry(broker):
    # The will is published when the session ends, if that comes first (§3.1.3.2.2).
    t = unique("will")
    w = will_watcher(broker.port, t)
    c = persistent(broker.port, unique("c"), 1, will=(t, b"session end", 1),
                   will_properties={m5.WILL_DELAY_INTERVAL: 30})
    c.abort()
    start = time.monotonic()
    m = w.next_publish(timeout=5.0)
    assert m.payload == b"session end"
    assert time.monotonic() - start <= 4.0


@pytest.mark.ours_only  # mosquitto holds the will for the whole delay (not published within 3 s)
def test_will_delay_with_session_expiry_zero_publishes_at_once(broker):
    t = unique("will")
    w = will_watcher(broker.port, t)
    c = m5.connected5(broker.port, unique("c"), will=(t, b"now", 1), will_properties={m5.WILL_DELAY_INTERVAL: 30})
    c.abort()
    assert w.next_publish(timeout=2.0).payload == b"now"


# ---------------------------------------------------------------- takeover

@pytest.mark.ours_only  # mosquitto closes the old connection without a DISCONNECT
def test_takeover_sends_session_taken_over(broker):
    cid = unique("take")
    old = m5.connected5(broker.port, cid)
    new = m5.connected5(broker.port, cid)
    old.expect_disconnect(m5.SESSION_TAKEN_OVER)
    new.do_disconnect5()


def test_takeover_of_persistent_session_keeps_will(broker):
    t, cid = unique("will"), unique("take")
    w = will_watcher(broker.port, t)
    old = persistent(broker.port, cid, 60, will=(t, b"old will", 1))
    new = persistent(broker.port, cid, 60)
    assert new.connack.session_present is True
    assert old.wait_closed(3, allow_packets=True) == "closed"
    w.expect_nothing(1.0)
    new.do_disconnect5()
    w.expect_nothing(0.3)


def test_takeover_with_clean_start_publishes_will(broker):
    t, cid = unique("will"), unique("take")
    w = will_watcher(broker.port, t)
    old = persistent(broker.port, cid, 60, will=(t, b"old will", 1))
    new = m5.connected5(broker.port, cid, clean_start=True)
    assert new.connack.session_present is False
    assert old.wait_closed(3, allow_packets=True) == "closed"
    assert w.next_publish().payload == b"old will"
    new.do_disconnect5()


# ---------------------------------------------------------------- flow control and sizes

def test_client_receive_maximum(broker):
    t = unique("rm")
    s = m5.connected5(broker.port, unique("s"), properties={m5.RECEIVE_MAXIMUM: 2})
    s.do_subscribe5([(t, m5.sub_options(1))])
    p = m5.connected5(broker.port, unique("p"))
    for i in range(10):
        p.do_publish5(t, str(i).encode(), qos=1, mid=i + 1)
    first = drain(s, 0.7, ack=False)
    assert [m.payload for m in first] == [b"0", b"1"], first
    # acknowledging one at a time: never more than 2 unacknowledged
    outstanding = list(first)
    got = [m.payload for m in first]
    while len(got) < 10:
        s.send(m5.puback5(outstanding.pop(0).mid))
        m = s.next_publish(ack=False)
        outstanding.append(m)
        got.append(m.payload)
        assert len(outstanding) <= 2
    for m in outstanding:
        s.send(m5.puback5(m.mid))
    assert got == [str(i).encode() for i in range(10)]
    s.expect_nothing(0.3)


def test_client_maximum_packet_size(broker):
    t = unique("mps")
    s = m5.connected5(broker.port, unique("s"), properties={m5.MAXIMUM_PACKET_SIZE: 100})
    s.do_subscribe5([(t, m5.sub_options(1))])
    p = m5.connected5(broker.port, unique("p"))
    p.do_publish5(t, b"x" * 500, qos=1, mid=1)
    p.do_publish5(t, b"small", qos=1, mid=2)
    p.do_publish5(t, b"x" * 500, qos=0)
    p.do_publish5(t, b"small too", qos=0)
    got = drain(s, 0.7)
    assert [m.payload for m in got] == [b"small", b"small too"], got


@pytest.mark.ours_only  # the $SYS topics are this broker's
def test_sys_counts_mqtt5_clients_and_what_mqtt5_rules_kept_back(broker_factory):
    from mongo_helpers import read_sys

    def sys_reaches(topic: str, expected: str) -> str:
        """The $SYS value once it is `expected` (it is refreshed every second), else the last."""
        deadline = time.monotonic() + 5
        while (value := read_sys(b.port, topic)) != expected and time.monotonic() < deadline:
            time.sleep(0.3)
        return value

    b = broker_factory(sys_interval=1)
    t = unique("sys5")
    sid = unique("s")
    s = m5.connected5(b.port, sid, clean_start=False, properties={
        m5.MAXIMUM_PACKET_SIZE: 100, m5.SESSION_EXPIRY_INTERVAL: 60})
    s.do_subscribe5([(t, m5.sub_options(1))])
    p = m5.connected5(b.port, unique("p"))
    p.do_publish5(t, b"x" * 500, qos=1, mid=1)
    assert sys_reaches("$SYS/broker/clients/mqtt5", "2") == "2"
    assert sys_reaches("$SYS/broker/publish/messages/too_large", "1") == "1"
    # Queued for the offline session, expired before it comes back: counted, not delivered.
    s.do_disconnect5()
    p.do_publish5(t, b"short-lived", qos=1, mid=2, properties={m5.MESSAGE_EXPIRY_INTERVAL: 1})
    time.sleep(1.5)
    s = m5.RawClient5(b.port)
    assert s.do_connect5(sid, clean_start=False, properties={m5.SESSION_EXPIRY_INTERVAL: 60}).session_present
    assert drain(s, 0.5) == []
    assert sys_reaches("$SYS/broker/publish/messages/expired", "1") == "1"


def test_packet_larger_than_broker_maximum(broker_factory):
    b = broker_factory(max_packet_size=1000)
    c = m5.connected5(b.port, unique("big"))
    assert c.connack.props.get(m5.MAXIMUM_PACKET_SIZE) == 1000
    c.send(m5.publish5(unique("t"), b"x" * 2000, qos=1, mid=1))
    c.expect_disconnect(m5.PACKET_TOO_LARGE)


# ---------------------------------------------------------------- protocol errors

@pytest.mark.parametrize("data", [
    pytest.param(m5.fixed(m5.PUBLISH, 0, m5.encode_string("a/b") + b"\x05\x01"), id="property-length-overrun"),
    pytest.param(m5.publish5("a/b", b"x", properties=[(0x7F, b"\x00")]), id="unknown-property"),
    pytest.param(m5.publish5("a/b", b"x", properties={SE: 5}), id="property-not-for-publish"),
])
def test_malformed_packet_gets_0x81(broker, data):
    c = m5.connected5(broker.port, unique("bad"))
    c.send(data)
    c.expect_disconnect(m5.MALFORMED_PACKET)


@pytest.mark.ours_only  # mosquitto closes the connection without a DISCONNECT
@pytest.mark.parametrize("data", [
    pytest.param(m5.connect5("second"), id="second-connect"),
    pytest.param(m5.publish5("a/b", b"x", properties=[(m5.CONTENT_TYPE, "a"), (m5.CONTENT_TYPE, "b")]),
                 id="repeated-property"),
])
def test_protocol_error_gets_0x82(broker, data):
    c = m5.connected5(broker.port, unique("bad"))
    c.send(data)
    c.expect_disconnect(m5.PROTOCOL_ERROR)


@pytest.mark.ours_only  # mosquitto closes a silent v5 client (3-5 s for keepalive 1) without a DISCONNECT
def test_keepalive_timeout_sends_0x8d(broker):
    c = m5.connected5(broker.port, unique("ka"), keepalive=1)
    start = time.monotonic()
    c.expect_disconnect(m5.KEEP_ALIVE_TIMEOUT, timeout=8)
    assert time.monotonic() - start >= 1.0


@pytest.mark.ours_only  # mosquitto closes v5 connections on SIGTERM without a DISCONNECT
def test_shutdown_sends_server_shutting_down(broker):
    clients = [m5.connected5(broker.port, unique("sd")) for _ in range(3)]
    broker.proc.send_signal(signal.SIGTERM)
    for c in clients:
        c.expect_disconnect(m5.SERVER_SHUTTING_DOWN, timeout=10)
    broker.stop()


# ---------------------------------------------------------------- authentication and authorization

@pytest.fixture
def auth_broker(broker_factory, tmp_path):
    """User u / password p may publish and subscribe under allowed/ only."""
    if is_mosquitto():
        pw = tmp_path / "passwd"
        pw.write_text("")
        subprocess.run(["mosquitto_passwd", "-b", str(pw), "u", "p"], check=True, capture_output=True)
        acl = tmp_path / "acl"
        acl.write_text("user u\ntopic readwrite allowed/#\n")
        # "user root": stay root to read files in the test's private tmp dir (no effect if not root)
        return broker_factory(mosquitto_extra=["user root", f"password_file {pw}", f"acl_file {acl}"])
    return broker_factory(ours_extra={
        "auth": {"internal_users": [{"username": "u", "password": bcrypt_hash("p"), "roles": ["dev"]}]},
        "acl": [{"name": "dev", "authorize_publish": ["allowed/#"], "authorize_subscribe": ["allowed/#"]}]})


@pytest.mark.ours_only  # mosquitto answers CONNACK 0x87 (Not authorized) for a bad password
def test_bad_password_gets_0x86(auth_broker):
    for user, password in (("u", "wrong"), ("nobody", "p")):
        c = m5.RawClient5(auth_broker.port)
        c.send(m5.connect5(unique("bad"), username=user, password=password))
        ack = c.expect(m5.CONNACK)
        assert ack.reason == m5.BAD_USER_NAME_OR_PASSWORD, ack
        assert_closed_without_packets(c)


def test_acl_denied_publish_gets_0x87(auth_broker):
    t = unique("acl")
    s = m5.connected5(auth_broker.port, unique("s"), username="u", password="p")
    s.do_subscribe5([("allowed/#", m5.sub_options(2))], expect_codes=[2])
    c = m5.connected5(auth_broker.port, unique("c"), username="u", password="p")
    c.do_publish5(f"denied/{t}", b"no", qos=1, mid=1, expect_reason=m5.NOT_AUTHORIZED)
    ack = c.do_publish5(f"denied/{t}", b"no", qos=2, mid=2)
    assert ack.type == m5.PUBREC and ack.reason == m5.NOT_AUTHORIZED, ack
    c.do_publish5(f"allowed/{t}", b"yes", qos=1, mid=3, expect_reason=0x00)
    assert [m.payload for m in drain(s, 0.7)] == [b"yes"]


@pytest.mark.ours_only  # mosquitto 2.0.11 grants the subscription (SUBACK 0x01) and filters at delivery
def test_acl_denied_subscribe_gets_0x87(auth_broker):
    c = m5.connected5(auth_broker.port, unique("c"), username="u", password="p")
    ack = c.do_subscribe5([(f"denied/{unique('t')}", 1), (f"allowed/{unique('t')}", 1)])
    assert ack.codes == [m5.NOT_AUTHORIZED, 0x01], ack


def test_unsupported_authentication_method_gets_0x8c(broker):
    c = m5.RawClient5(broker.port)
    c.send(m5.connect5(unique("scram"), properties={m5.AUTHENTICATION_METHOD: "SCRAM-SHA-1",
                                                    m5.AUTHENTICATION_DATA: b"n,,n=user,r=abc"}))
    ack = c.expect(m5.CONNACK)
    assert ack.reason == m5.BAD_AUTHENTICATION_METHOD, ack
    assert_closed_without_packets(c)


@pytest.mark.ours_only  # mosquitto closes the connection without a DISCONNECT
def test_auth_packet_without_authentication_method_is_protocol_error(broker):
    c = m5.connected5(broker.port, unique("auth"))
    c.send(m5.auth5(m5.CONTINUE_AUTHENTICATION, {m5.AUTHENTICATION_METHOD: "SCRAM-SHA-1"}))
    c.expect_disconnect(m5.PROTOCOL_ERROR)


# ---------------------------------------------------------------- mixed protocol versions

def test_v311_subscriber_gets_v5_message(broker):
    t = unique("mix")
    s = raw.connected(broker.port, unique("v3"))
    s.do_subscribe([(t, 1)])
    p = m5.connected5(broker.port, unique("v5"))
    p.do_publish5(t, b"plain", qos=1, properties=MESSAGE_PROPS + [(m5.MESSAGE_EXPIRY_INTERVAL, 60)])
    m = s.expect(raw.PUBLISH)
    assert (m.topic, m.payload, m.qos) == (t, b"plain", 1), m
    s.send(raw.puback(m.mid))


def test_v5_subscriber_gets_v311_message(broker):
    t = unique("mix")
    s = m5.connected5(broker.port, unique("v5"))
    s.do_subscribe5([(t, m5.sub_options(2))], properties={m5.SUBSCRIPTION_IDENTIFIER: 4})
    p = raw.connected(broker.port, unique("v3"))
    p.do_publish(t, b"from 3.1.1", qos=2)
    m = s.next_publish()
    assert (m.topic, m.payload, m.qos, m.props.items) == (t, b"from 3.1.1", 2,
                                                          [(m5.SUBSCRIPTION_IDENTIFIER, 4)]), m


def test_retained_v5_message_for_later_subscribers_of_both_versions(broker):
    t = unique("mixret")
    p = m5.connected5(broker.port, unique("v5"))
    p.do_publish5(t, b"stay", qos=1, retain=True, properties=MESSAGE_PROPS)
    v3 = raw.connected(broker.port, unique("v3"))
    v3.do_subscribe([(t, 1)])
    m = v3.expect(raw.PUBLISH)
    assert (m.topic, m.payload, m.retain) == (t, b"stay", True), m
    v3.send(raw.puback(m.mid))
    v5 = m5.connected5(broker.port, unique("v5"))
    v5.do_subscribe5([(t, m5.sub_options(1))])
    m = v5.next_publish()
    assert (m.payload, m.retain) == (b"stay", True), m
    assert_message_props(m)
    p.do_publish5(t, b"", qos=1, retain=True, mid=2)


# ---------------------------------------------------------------- transports (both brokers)

def start_all5(broker_factory, certs) -> tuple[object, Ports]:
    """A broker with mqtt, mqtts, ws and wss listeners. Ours: test_13's start_all (YAML
    listeners); mosquitto: extra listeners in its conf."""
    if not is_mosquitto():
        return start_all(broker_factory, certs)
    mqtts, ws, wss = free_port(), free_port(), free_port()
    while len({mqtts, ws, wss}) < 3:
        ws, wss = free_port(), free_port()
    tls = [f"certfile {certs.path('server.crt')}", f"keyfile {certs.path('server.key')}"]
    extra = ["user root",  # stay root to read the certificates in the test's private tmp dir
             f"listener {mqtts} 127.0.0.1", *tls,
             f"listener {ws} 127.0.0.1", "protocol websockets",
             f"listener {wss} 127.0.0.1", "protocol websockets", *tls]
    b = broker_factory(mosquitto_extra=extra)
    return b, Ports(b.port, mqtts, ws, wss)


def client5_on(kind: str, ports: Ports, certs, **kw) -> PahoClient:
    if kind == "mqtt":
        return Paho5(ports.mqtt, **kw)
    if kind == "mqtts":
        return Paho5(ports.mqtts, setup=tls_setup(certs), host="localhost", **kw)
    if kind == "ws":
        return Paho5(ports.ws, transport="websockets", setup=ws_setup(), **kw)
    return Paho5(ports.wss, transport="websockets", setup=ws_setup(certs), host="localhost", **kw)
