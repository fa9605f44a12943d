"""03: QoS 0/1/2 packet flows in both directions, packet ids, in-flight window, queues, redelivery."""
import pytest

import mqtt_raw as raw
from helpers import unique


def test_inbound_qos0_no_ack(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 2)])
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(f"{r}/t", b"q0"))
    p = sub.expect(raw.PUBLISH)
    assert (p.payload, p.qos, p.mid) == (b"q0", 0, None)
    pub.expect_nothing(0.5)


def test_inbound_qos1_puback(broker):
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(unique("t"), b"q1", qos=1, mid=4321))
    ack = pub.expect(raw.PUBACK)
    assert ack.mid == 4321 and ack.flags == 0 and len(ack.body) == 2


def test_inbound_qos2_flow(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 0)])
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(f"{r}/t", b"q2", qos=2, mid=65535))
    rec = pub.expect(raw.PUBREC)
    assert rec.mid == 65535 and rec.flags == 0
    pub.send(raw.pubrel(65535))
    comp = pub.expect(raw.PUBCOMP)
    assert comp.mid == 65535 and comp.flags == 0
    p = sub.expect(raw.PUBLISH)
    assert (p.topic, p.payload) == (f"{r}/t", b"q2")


def test_inbound_qos2_exactly_once_with_dup_resend(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 2)])
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(f"{r}/t", b"once", qos=2, mid=7))
    assert pub.expect(raw.PUBREC).mid == 7
    # client did not see the PUBREC (as far as the broker knows) and resends with DUP
    pub.send(raw.publish(f"{r}/t", b"once", qos=2, mid=7, dup=True))
    assert pub.expect(raw.PUBREC).mid == 7
    pub.send(raw.pubrel(7))
    assert pub.expect(raw.PUBCOMP).mid == 7
    got = sub.collect_publishes(1)
    assert got[0].payload == b"once"
    sub.expect_nothing(1.0)


def test_inbound_qos2_resend_after_reconnect_before_pubrel(broker):
    """Persistent publisher loses its connection after PUBREC; on reconnect it resends the
    PUBLISH with DUP: the message must still be delivered exactly once."""
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 2)])
    cid = unique("p")
    pub = raw.connected(broker.port, cid, clean=False)
    pub.send(raw.publish(f"{r}/t", b"once", qos=2, mid=9))
    assert pub.expect(raw.PUBREC).mid == 9
    pub.abort()
    pub = raw.connected(broker.port, cid, clean=False)
    pub.send(raw.publish(f"{r}/t", b"once", qos=2, mid=9, dup=True))
    assert pub.expect(raw.PUBREC).mid == 9
    pub.send(raw.pubrel(9))
    assert pub.expect(raw.PUBCOMP).mid == 9
    got = sub.collect_publishes(1)
    assert got[0].payload == b"once"
    sub.expect_nothing(1.0)


def test_inbound_packet_ids_are_per_client(broker):
    """Two clients using the same packet id concurrently for QoS 2 must not interfere."""
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 0)])
    a = raw.connected(broker.port, unique("a"))
    b = raw.connected(broker.port, unique("b"))
    a.send(raw.publish(f"{r}/t", b"from-a", qos=2, mid=1))
    b.send(raw.publish(f"{r}/t", b"from-b", qos=2, mid=1))
    assert a.expect(raw.PUBREC).mid == 1
    assert b.expect(raw.PUBREC).mid == 1
    a.send(raw.pubrel(1))
    b.send(raw.pubrel(1))
    assert a.expect(raw.PUBCOMP).mid == 1
    assert b.expect(raw.PUBCOMP).mid == 1
    got = sorted(p.payload for p in sub.collect_publishes(2))
    assert got == [b"from-a", b"from-b"]
    sub.expect_nothing(0.5)


def test_pubrel_for_unknown_id_gets_pubcomp(broker):
    c = raw.connected(broker.port, unique("c"))
    c.send(raw.pubrel(321))
    assert c.expect(raw.PUBCOMP).mid == 321


@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
def test_outbound_qos_is_min_of_publish_and_granted(broker, pub_qos, sub_qos):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", sub_qos)], expect_codes=[sub_qos])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/t", b"payload", qos=pub_qos, mid=11)
    p = sub.expect(raw.PUBLISH)
    want = min(pub_qos, sub_qos)
    assert (p.topic, p.payload, p.qos, p.dup, p.retain) == (f"{r}/t", b"payload", want, False, False)
    if want == 0:
        assert p.mid is None
    else:
        assert p.mid != 0
    if want == 1:
        sub.send(raw.puback(p.mid))
    elif want == 2:
        sub.send(raw.pubrec(p.mid))
        rel = sub.expect(raw.PUBREL)
        assert rel.mid == p.mid and rel.flags == 0x02
        sub.send(raw.pubcomp(p.mid))
    sub.expect_nothing(0.7)


def test_outbound_inflight_packet_ids_distinct(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 1)])
    pub = raw.connected(broker.port, unique("p"))
    for i in range(1, 11):
        pub.do_publish(f"{r}/t", str(i).encode(), qos=1, mid=i)
    got = sub.collect_publishes(10, ack=False)
    mids = [p.mid for p in got]
    assert 0 not in mids
    assert len(set(mids)) == 10, mids
    assert [p.payload for p in got] == [str(i).encode() for i in range(1, 11)]


def test_outbound_qos2_not_redelivered_after_pubrec(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 2)])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/t", b"x", qos=2)
    p = sub.expect(raw.PUBLISH)
    sub.send(raw.pubrec(p.mid))
    assert sub.expect(raw.PUBREL).mid == p.mid
    sub.send(raw.pubcomp(p.mid))
    sub.expect_nothing(1.0)


def _window_setup(port):
    r = unique("r")
    sub = raw.connected(port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 1)])
    pub = raw.connected(port, unique("p"))
    for i in range(1, 7):
        pub.do_publish(f"{r}/t", str(i).encode(), qos=1, mid=i)
    first = [sub.expect(raw.PUBLISH), sub.expect(raw.PUBLISH)]
    assert [p.payload for p in first] == [b"1", b"2"]
    sub.expect_nothing(1.0)  # window full: nothing more until acked
    return sub, first


def test_inflight_window_limits_unacked_qos1(broker_factory):
    b = broker_factory(max_inflight_messages=2)
    sub, first = _window_setup(b.port)
    for p in first:
        sub.send(raw.puback(p.mid))
    rest = sub.collect_publishes(4)  # acking releases the queued rest, in order
    assert [p.payload for p in rest] == [b"3", b"4", b"5", b"6"]
    sub.expect_nothing(0.5)


@pytest.mark.ours_only
# mosquitto 2.0.11 refills the whole window after a single PUBACK once it was full (with a
# window of 2, acking 1 of 2 releases 2 more: 3 unacknowledged in flight). Our contract: never
# more than max_inflight_messages unacknowledged QoS 1/2 messages per client.
def test_inflight_window_strict_one_per_ack(broker_factory):
    b = broker_factory(max_inflight_messages=2)
    sub, first = _window_setup(b.port)
    sub.send(raw.puback(first[0].mid))
    third = sub.expect(raw.PUBLISH)
    assert third.payload == b"3"
    sub.expect_nothing(0.7)
    sub.send(raw.puback(first[1].mid))
    sub.send(raw.puback(third.mid))
    rest = sub.collect_publishes(3)
    assert [p.payload for p in rest] == [b"4", b"5", b"6"]
    sub.expect_nothing(0.5)


def test_inflight_window_qos0_not_limited(broker_factory):
    b = broker_factory(max_inflight_messages=2)
    r = unique("r")
    sub = raw.connected(b.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 0)])
    pub = raw.connected(b.port, unique("p"))
    for i in range(10):
        pub.send(raw.publish(f"{r}/t", str(i).encode()))
    got = sub.collect_publishes(10)
    assert [p.payload for p in got] == [str(i).encode() for i in range(10)]


def _offline_persistent_subscriber(port, topic, qos):
    cid = unique("persist")
    c = raw.connected(port, cid, clean=False)
    c.do_subscribe([(topic, qos)], expect_codes=[qos])
    c.do_disconnect()
    return cid


def test_offline_queue_limit(broker_factory):
    b = broker_factory(max_queued_messages=3, max_inflight_messages=20)
    r = unique("r")
    cid = _offline_persistent_subscriber(b.port, f"{r}/t", 1)
    pub = raw.connected(b.port, unique("p"))
    for i in range(1, 11):
        pub.do_publish(f"{r}/t", str(i).encode(), qos=1, mid=i)
    c = raw.RawClient(b.port)
    c.send(raw.connect(cid, clean=False))
    assert c.expect(raw.CONNACK).session_present
    got = c.collect_publishes(3)
    assert [p.payload for p in got] == [b"1", b"2", b"3"]  # the oldest are kept, later ones dropped
    c.expect_nothing(1.0)


def test_redelivery_with_dup_after_reconnect_qos1(broker):
    r = unique("r")
    cid = unique("sub")
    sub = raw.connected(broker.port, cid, clean=False)
    sub.do_subscribe([(f"{r}/t", 1)])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/t", b"a", qos=1, mid=1)
    pub.do_publish(f"{r}/t", b"b", qos=1, mid=2)
    first = sub.collect_publishes(2, ack=False)
    assert [p.dup for p in first] == [False, False]
    sub.send(raw.puback(first[0].mid))  # ack "a" only
    sub.expect_nothing(0.3)
    sub.abort()
    sub = raw.RawClient(broker.port)
    sub.send(raw.connect(cid, clean=False))
    assert sub.expect(raw.CONNACK).session_present is True
    again = sub.expect(raw.PUBLISH)
    assert (again.payload, again.dup, again.qos, again.mid) == (b"b", True, 1, first[1].mid)
    sub.send(raw.puback(again.mid))
    sub.expect_nothing(1.0)


def test_redelivery_qos2_publish_and_pubrel_after_reconnect(broker):
    r = unique("r")
    cid = unique("sub")
    sub = raw.connected(broker.port, cid, clean=False)
    sub.do_subscribe([(f"{r}/t", 2)])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/t", b"recd", qos=2, mid=1)
    pub.do_publish(f"{r}/t", b"unrecd", qos=2, mid=2)
    got = sub.collect_publishes(2, ack=False)
    assert [p.payload for p in got] == [b"recd", b"unrecd"]
    sub.send(raw.pubrec(got[0].mid))
    assert sub.expect(raw.PUBREL).mid == got[0].mid
    sub.abort()  # neither PUBCOMP for the first nor PUBREC for the second
    sub = raw.RawClient(broker.port)
    sub.send(raw.connect(cid, clean=False))
    assert sub.expect(raw.CONNACK).session_present is True
    seen = {}
    for _ in range(2):
        p = sub.recv()
        seen[p.type] = p
    assert set(seen) == {raw.PUBREL, raw.PUBLISH}, seen
    assert seen[raw.PUBREL].mid == got[0].mid  # released, not re-published
    p = seen[raw.PUBLISH]
    assert (p.payload, p.dup, p.mid) == (b"unrecd", True, got[1].mid)
    sub.send(raw.pubcomp(got[0].mid))
    sub.send(raw.pubrec(p.mid))
    assert sub.expect(raw.PUBREL).mid == p.mid
    sub.send(raw.pubcomp(p.mid))
    sub.expect_nothing(1.0)


def test_new_packet_ids_avoid_unacked_after_reconnect(broker):
    r = unique("r")
    cid = unique("sub")
    sub = raw.connected(broker.port, cid, clean=False)
    sub.do_subscribe([(f"{r}/t", 1)])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/t", b"old", qos=1, mid=1)
    old = sub.expect(raw.PUBLISH)
    sub.abort()
    sub = raw.connected(broker.port, cid, clean=False)
    redelivered = sub.expect(raw.PUBLISH)
    assert (redelivered.payload, redelivered.mid, redelivered.dup) == (b"old", old.mid, True)
    pub.do_publish(f"{r}/t", b"new", qos=1, mid=2)
    new = sub.expect(raw.PUBLISH)
    assert new.payload == b"new"
    assert new.mid != old.mid  # "old" is still unacknowledged
    sub.send(raw.puback(new.mid))
    sub.send(raw.puback(old.mid))
    sub.expect_nothing(0.7)
