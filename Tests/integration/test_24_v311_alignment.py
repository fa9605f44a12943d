"""24: MQTT 3.1.1 details aligned with mosquitto 2.0.11 (raw sockets): the topic level limit,
acknowledgements of the wrong kind, the order of a publisher's own ack and its message coming
back, and wills on a takeover of a persistent session."""
from __future__ import annotations

import pytest

import mqtt_raw as raw
from helpers import HealthyPair, unique


def deep_topic(levels: int, last: str | None = None) -> str:
    return "/".join(["l"] * (levels - 1) + [last or unique("x")])


# ---------------------------------------------------------------- (a) topic levels

def test_200_levels_subscribed_and_delivered(broker):
    leaf = unique("leaf")
    topic = deep_topic(200, leaf)
    exact = raw.connected(broker.port, unique("exact"))
    exact.do_subscribe([(topic, 1)], expect_codes=[1])
    wild = raw.connected(broker.port, unique("wild"))
    wild_filter = "+/" + "/".join(["l"] * 198) + "/#"  # 200 levels
    assert len(wild_filter.split("/")) == 200
    wild.do_subscribe([(wild_filter, 1)], expect_codes=[1])
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(topic, b"deep", qos=1)
    for c in (exact, wild):
        m = c.expect(raw.PUBLISH)
        assert (m.topic, m.payload) == (topic, b"deep"), m
        c.send(raw.puback(m.mid))


@pytest.mark.ours_only  # mosquitto 2.0.11 accepts 201 levels (PUBACK, delivered); it closes from 202 on
def test_201_levels_in_publish_closes(broker):
    pair = HealthyPair(broker.port)
    c = raw.connected(broker.port, unique("deep"))
    c.send(raw.publish(deep_topic(201), b"too deep", qos=1, mid=1))
    assert c.wait_closed(3) == "closed"
    pair.check()
    pair.close()


@pytest.mark.parametrize("levels", [202, 300])
def test_deeper_publish_closes(broker, levels):
    pair = HealthyPair(broker.port)
    watcher = raw.connected(broker.port, unique("all"))
    watcher.do_subscribe([("#", 0)])
    c = raw.connected(broker.port, unique("deep"))
    c.send(raw.publish(deep_topic(levels), b"too deep", qos=1, mid=1))
    assert c.wait_closed(3) == "closed"
    pair.check()
    pair.close()
    while True:  # only the pair's messages reached the watcher
        try:
            m = watcher.recv(0.3)
        except TimeoutError:
            break
        assert m.payload != b"too deep", m


# ---------------------------------------------------------------- (b) wrong acknowledgements

def delivered(port: int, qos: int) -> tuple[raw.RawClient, raw.Packet]:
    t = unique("ack")
    s = raw.connected(port, unique("s"))
    s.do_subscribe([(t, qos)], expect_codes=[qos])
    p = raw.connected(port, unique("p"))
    p.do_publish(t, b"x", qos=qos)
    m = s.expect(raw.PUBLISH)
    assert m.qos == qos, m
    return s, m


@pytest.mark.parametrize("wrong", ["pubrec", "pubcomp"])
def test_wrong_ack_for_qos1_delivery_closes(broker, wrong):
    s, m = delivered(broker.port, 1)
    s.send(getattr(raw, wrong)(m.mid))
    assert s.wait_closed(3) == "closed"


@pytest.mark.parametrize("wrong", ["puback", "pubcomp"])
def test_wrong_ack_for_qos2_delivery_before_pubrec_closes(broker, wrong):
    s, m = delivered(broker.port, 2)
    s.send(getattr(raw, wrong)(m.mid))
    assert s.wait_closed(3) == "closed"


# ---------------------------------------------------------------- (c) own publish: ack first

@pytest.mark.ours_only  # mosquitto sends the message back before the PUBACK (every time)
def test_own_qos1_publish_acked_before_it_comes_back(broker):
    for _ in range(10):
        t = unique("own")
        c = raw.connected(broker.port, unique("own"))
        c.do_subscribe([(t, 1)], expect_codes=[1])
        c.send(raw.publish(t, b"me", qos=1, mid=9))
        first = c.recv()
        assert (first.type, first.mid) == (raw.PUBACK, 9), first
        m = c.expect(raw.PUBLISH)
        assert m.payload == b"me"
        c.send(raw.puback(m.mid))
        c.do_disconnect()


def test_own_qos2_publish_pubrec_before_it_comes_back(broker):
    for _ in range(10):
        t = unique("own")
        c = raw.connected(broker.port, unique("own"))
        c.do_subscribe([(t, 2)], expect_codes=[2])
        c.send(raw.publish(t, b"me", qos=2, mid=9))
        first = c.recv()
        assert (first.type, first.mid) == (raw.PUBREC, 9), first
        c.send(raw.pubrel(9))
        c.expect_ack(raw.PUBCOMP, 9)  # the message may come before or after the PUBCOMP
        got = c.collect_publishes(1)
        assert got[0].payload == b"me"
        c.do_disconnect()


# ---------------------------------------------------------------- (d) takeover and wills

@pytest.mark.parametrize("new_clean,will_expected", [(False, False), (True, True)],
                         ids=["persistent-takeover", "clean-takeover"])
def test_takeover_of_persistent_session_and_will(broker, new_clean, will_expected):
    wt, cid = unique("will"), unique("take")
    w = raw.connected(broker.port, unique("watch"))
    w.do_subscribe([(wt, 1)], expect_codes=[1])
    old = raw.connected(broker.port, cid, clean=False, will_topic=wt, will_payload=b"old will", will_qos=1)
    new = raw.connected(broker.port, cid, clean=new_clean)
    assert old.wait_closed(3) == "closed"
    if will_expected:
        m = w.expect(raw.PUBLISH)
        assert (m.topic, m.payload) == (wt, b"old will"), m
        w.send(raw.puback(m.mid))
    w.expect_nothing(1.0)
    new.do_disconnect()
    w.expect_nothing(0.3)  # the new connection has no will
