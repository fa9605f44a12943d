"""05: Last Will and Testament."""
import time

import pytest

import mqtt_raw as raw
from helpers import assert_broker_healthy, unique


def will_watcher(port, topic, qos=2):
    w = raw.connected(port, unique("watch"))
    w.do_subscribe([(topic, qos)], expect_codes=[qos])
    return w


def will_client(port, topic, payload=b"gone", qos=0, retain=False, keepalive=60, cid=None, clean=True):
    return raw.connected(port, cid or unique("will"), clean=clean, keepalive=keepalive,
                         will_topic=topic, will_payload=payload, will_qos=qos, will_retain=retain)


@pytest.mark.parametrize("how", ["rst", "fin"])
def test_will_on_abnormal_close(broker, how):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t)
    c = will_client(broker.port, t, b"bye")
    c.abort() if how == "rst" else c.close()
    m = w.expect(raw.PUBLISH, timeout=5)
    assert (m.topic, m.payload, m.qos, m.retain) == (t, b"bye", 0, False)


def test_no_will_after_disconnect(broker):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t)
    c = will_client(broker.port, t)
    c.send(raw.disconnect())
    assert c.wait_closed(3) == "closed"
    w.expect_nothing(1.5)


def test_will_on_keepalive_timeout(broker):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t)
    c = will_client(broker.port, t, b"timeout", keepalive=1)
    start = time.monotonic()
    m = w.expect(raw.PUBLISH, timeout=8)  # silent for > 1.5 x keepalive (mosquitto: coarse, <= ~5 s)
    elapsed = time.monotonic() - start
    assert m.payload == b"timeout"
    assert elapsed >= 1.0, f"will published after {elapsed:.2f}s, before the keepalive expired"
    assert c.wait_closed(2) == "closed"


def test_will_on_takeover(broker):
    t = unique("will") + "/t"
    cid = unique("will-take")
    w = will_watcher(broker.port, t)
    old = will_client(broker.port, t, b"taken-over", cid=cid)
    new = raw.connected(broker.port, cid)
    assert old.wait_closed(3) == "closed"
    m = w.expect(raw.PUBLISH, timeout=5)
    assert m.payload == b"taken-over"
    new.send(raw.disconnect())
    w.expect_nothing(1.0)  # the new connection has no will


def test_will_on_protocol_violation(broker):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t)
    c = will_client(broker.port, t, b"violated")
    c.send(raw.publish("bad/#", b"x"))
    assert c.wait_closed(3) == "closed"
    assert w.expect(raw.PUBLISH, timeout=5).payload == b"violated"


@pytest.mark.parametrize("will_qos,sub_qos,want", [(0, 2, 0), (1, 2, 1), (2, 2, 2), (2, 1, 1)])
def test_will_qos_honoured(broker, will_qos, sub_qos, want):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t, qos=sub_qos)
    c = will_client(broker.port, t, b"q", qos=will_qos)
    c.abort()
    m = w.expect(raw.PUBLISH)
    assert (m.payload, m.qos) == (b"q", want)
    w.ack_publish(m)


def test_will_retain_honoured(broker):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t, qos=1)
    c = will_client(broker.port, t, b"last", qos=1, retain=True)
    c.abort()
    live = w.expect(raw.PUBLISH)
    assert (live.payload, live.retain) == (b"last", False)
    w.ack_publish(live)
    late = raw.connected(broker.port, unique("late"))
    late.do_subscribe([(t, 1)])
    m = late.expect(raw.PUBLISH)
    assert (m.topic, m.payload, m.retain, m.qos) == (t, b"last", True, 1)


def test_will_not_retained_without_flag(broker):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t)
    c = will_client(broker.port, t, b"x", retain=False)
    c.abort()
    w.expect(raw.PUBLISH)
    late = raw.connected(broker.port, unique("late"))
    late.do_subscribe([(t, 0)])
    late.expect_nothing(0.7)


def test_will_published_once(broker):
    t = unique("will") + "/t"
    w = will_watcher(broker.port, t)
    c = will_client(broker.port, t, b"once")
    c.abort()
    assert w.expect(raw.PUBLISH).payload == b"once"
    w.expect_nothing(1.5)
    assert_broker_healthy(broker.port)
