"""06: persistent sessions (clean session 0) and clean sessions."""
import time

import pytest

import mqtt_raw as raw
from helpers import unique


def reconnect(port, cid, clean=False):
    c = raw.RawClient(port)
    c.send(raw.connect(cid, clean=clean))
    ack = c.expect(raw.CONNACK)
    assert ack.rc == 0
    return c, ack.session_present


def test_session_present_flag(broker):
    cid = unique("sp")
    c, sp = reconnect(broker.port, cid, clean=False)
    assert sp is False  # no session yet
    c.do_disconnect()
    c, sp = reconnect(broker.port, cid, clean=False)
    assert sp is True
    c.do_disconnect()
    c, sp = reconnect(broker.port, cid, clean=True)
    assert sp is False  # clean session: always 0
    c.do_disconnect()
    c, sp = reconnect(broker.port, cid, clean=False)
    assert sp is False  # the clean session discarded the stored one
    c.do_disconnect()


def test_subscriptions_survive_disconnect(broker):
    cid, t = unique("keep"), unique("keep") + "/t"
    c = raw.connected(broker.port, cid, clean=False)
    c.do_subscribe([(t, 1)])
    c.do_disconnect()
    c, sp = reconnect(broker.port, cid)
    assert sp is True
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"still-subscribed", qos=1)
    m = c.expect(raw.PUBLISH)
    assert (m.topic, m.payload, m.qos) == (t, b"still-subscribed", 1)


@pytest.mark.parametrize("how", ["disconnect", "abort"])
def test_qos1_qos2_queued_while_offline(broker, how):
    cid, r = unique("q"), unique("q")
    c = raw.connected(broker.port, cid, clean=False)
    c.do_subscribe([(f"{r}/1", 1), (f"{r}/2", 2)], expect_codes=[1, 2])
    c.do_disconnect() if how == "disconnect" else c.abort()
    time.sleep(0.3)
    p = raw.connected(broker.port, unique("p"))
    for i in range(5):
        p.do_publish(f"{r}/1", f"one-{i}".encode(), qos=1, mid=2 * i + 1)
        p.do_publish(f"{r}/2", f"two-{i}".encode(), qos=2, mid=2 * i + 2)
    c, sp = reconnect(broker.port, cid)
    assert sp is True
    got = c.collect_publishes(10)
    assert [(m.topic, m.qos, m.payload) for m in got] == [
        x for i in range(5) for x in ((f"{r}/1", 1, f"one-{i}".encode()), (f"{r}/2", 2, f"two-{i}".encode()))]
    assert not any(m.dup for m in got)  # never sent before: not duplicates
    c.expect_nothing(1.0)


def test_clean_session_discards_subscriptions_and_queue(broker):
    cid, t = unique("cs"), unique("cs") + "/t"
    c = raw.connected(broker.port, cid, clean=False)
    c.do_subscribe([(t, 1)])
    c.do_disconnect()
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"queued", qos=1, mid=1)
    c, sp = reconnect(broker.port, cid, clean=True)
    assert sp is False
    c.expect_nothing(1.0)  # queued message discarded
    p.do_publish(t, b"live", qos=1, mid=2)
    c.expect_nothing(1.0)  # subscription discarded


def test_clean_session_state_not_kept_after_disconnect(broker):
    cid, t = unique("cs"), unique("cs") + "/t"
    c = raw.connected(broker.port, cid, clean=True)
    c.do_subscribe([(t, 1)])
    c.do_disconnect()
    c, sp = reconnect(broker.port, cid, clean=False)
    assert sp is False
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"x", qos=1)
    c.expect_nothing(1.0)


def test_qos0_not_required_offline_but_never_duplicated(broker):
    """QoS 0 messages for an offline session may be dropped (mosquitto drops them by default),
    but a QoS 1 message queued alongside must arrive exactly once."""
    cid, t = unique("q0"), unique("q0") + "/t"
    c = raw.connected(broker.port, cid, clean=False)
    c.do_subscribe([(t, 1)])
    c.do_disconnect()
    p = raw.connected(broker.port, unique("p"))
    p.send(raw.publish(t, b"zero"))
    p.do_publish(t, b"one", qos=1)
    c, _ = reconnect(broker.port, cid)
    got = []
    try:
        while True:
            m = c.recv(1.0)
            got.append(m.payload)
            c.ack_publish(m)
    except TimeoutError:
        pass
    assert got.count(b"one") == 1
    assert got.count(b"zero") <= 1


@pytest.mark.ours_only  # mosquitto's persistent_client_expiration has hour granularity
def test_session_expiry(broker_factory):
    b = broker_factory(session_expiry_seconds=2)
    cid, t = unique("exp"), unique("exp") + "/t"
    c = raw.connected(b.port, cid, clean=False)
    c.do_subscribe([(t, 1)])
    c.do_disconnect()
    p = raw.connected(b.port, unique("p"))
    p.do_publish(t, b"will-expire", qos=1)
    time.sleep(4.5)
    c, sp = reconnect(b.port, cid)
    assert sp is False
    c.expect_nothing(1.0)


@pytest.mark.ours_only
def test_session_not_expired_before_expiry(broker_factory):
    b = broker_factory(session_expiry_seconds=30)
    cid, t = unique("exp"), unique("exp") + "/t"
    c = raw.connected(b.port, cid, clean=False)
    c.do_subscribe([(t, 1)])
    c.do_disconnect()
    time.sleep(2)
    c, sp = reconnect(b.port, cid)
    assert sp is True


def test_many_persistent_sessions_independent(broker):
    r = unique("many")
    cids = [unique("m") for _ in range(10)]
    for i, cid in enumerate(cids):
        c = raw.connected(broker.port, cid, clean=False)
        c.do_subscribe([(f"{r}/{i}", 1)])
        c.do_disconnect()
    p = raw.connected(broker.port, unique("p"))
    for i in range(10):
        p.do_publish(f"{r}/{i}", str(i).encode(), qos=1, mid=i + 1)
    for i, cid in enumerate(cids):
        c, sp = reconnect(broker.port, cid)
        assert sp is True
        got = c.collect_publishes(1)
        assert got[0].payload == str(i).encode()
        c.expect_nothing(0.2)
        c.do_disconnect()
