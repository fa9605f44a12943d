"""04: retained messages."""
import mqtt_raw as raw
from helpers import unique


def retained_for(port, filt, qos=0, count=None, quiet=0.7):
    """Subscribe with a fresh client and return the PUBLISHes that arrive (all must be retained)."""
    c = raw.connected(port, unique("rs"))
    c.do_subscribe([(filt, qos)], expect_codes=[qos])
    out = []
    try:
        while count is None or len(out) < count:
            p = c.recv(quiet if count is None else 5)
            assert p.type == raw.PUBLISH, p
            if p.qos:
                c.ack_publish(p)
            out.append(p)
    except TimeoutError:
        pass
    if count is not None:
        c.expect_nothing(quiet)
    c.do_disconnect()
    return out


def test_retained_delivered_on_subscribe(broker):
    t = unique("ret") + "/a"
    with raw.connected(broker.port, unique("p")) as p:
        p.do_publish(t, b"keep", qos=1, retain=True)
        p.do_disconnect()
    got = retained_for(broker.port, t, count=1)
    assert (got[0].topic, got[0].payload, got[0].retain) == (t, b"keep", True)


def test_retained_replaced(broker):
    t = unique("ret") + "/a"
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"v1", qos=1, retain=True, mid=1)
    p.do_publish(t, b"v2", qos=1, retain=True, mid=2)
    got = retained_for(broker.port, t, count=1)
    assert got[0].payload == b"v2" and got[0].retain


def test_retained_cleared_by_empty_payload(broker):
    t = unique("ret") + "/a"
    existing = raw.connected(broker.port, unique("ex"))
    existing.do_subscribe([(t, 1)])
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"v1", qos=1, retain=True, mid=1)
    p.do_publish(t, b"", qos=1, retain=True, mid=2)
    got = existing.collect_publishes(2)
    # existing subscribers get both as normal (non-retained) messages, including the empty one
    assert [(m.payload, m.retain) for m in got] == [(b"v1", False), (b"", False)]
    assert retained_for(broker.port, t) == []
    assert all(m.topic != t for m in retained_for(broker.port, "#"))


def test_retained_matched_by_wildcards(broker):
    r = unique("ret")
    topics = {f"{r}/a": b"A", f"{r}/b/c": b"BC", f"{r}/d": b"D", f"other-{r}/a": b"O"}
    p = raw.connected(broker.port, unique("p"))
    for i, (t, pl) in enumerate(topics.items(), start=1):
        p.do_publish(t, pl, qos=1, retain=True, mid=i)

    def check(filt, expected):
        got = retained_for(broker.port, filt, count=len(expected))
        assert all(m.retain for m in got), got
        assert sorted((m.topic, m.payload) for m in got) == sorted((t, topics[t]) for t in expected)

    check(f"{r}/+", [f"{r}/a", f"{r}/d"])
    check(f"{r}/#", [f"{r}/a", f"{r}/b/c", f"{r}/d"])
    check(f"+/b/+", [f"{r}/b/c"])
    check(f"+/a", [f"{r}/a", f"other-{r}/a"])
    check(f"{r}/b/c", [f"{r}/b/c"])


def test_retained_each_subscribe_packet_gets_retained(broker):
    """Two SUBSCRIBE packets with different matching filters each trigger the retained message;
    re-subscribing to the same filter sends it again (MQTT-3.8.4-3)."""
    r = unique("ret")
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(f"{r}/x", b"R", qos=1, retain=True)
    c = raw.connected(broker.port, unique("c"))
    c.do_subscribe([(f"{r}/x", 0)], mid=1)
    assert c.expect(raw.PUBLISH).retain
    c.do_subscribe([(f"{r}/#", 0)], mid=2)
    m = c.expect(raw.PUBLISH)
    assert (m.topic, m.payload, m.retain) == (f"{r}/x", b"R", True)
    c.do_subscribe([(f"{r}/x", 0)], mid=3)
    m = c.expect(raw.PUBLISH)
    assert (m.topic, m.payload, m.retain) == (f"{r}/x", b"R", True)
    c.expect_nothing(0.7)


def test_live_message_to_existing_subscriber_has_retain_0(broker):
    t = unique("ret") + "/live"
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(t, 1)])
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"live", qos=1, retain=True)
    m = sub.expect(raw.PUBLISH)
    assert (m.payload, m.retain) == (b"live", False)
    # ...while a new subscriber gets it with retain=1
    got = retained_for(broker.port, t, count=1)
    assert got[0].retain and got[0].payload == b"live"


def test_retained_qos_downgraded_to_subscription(broker):
    t = unique("ret") + "/q"
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"q2", qos=2, retain=True)
    assert retained_for(broker.port, t, qos=0, count=1)[0].qos == 0
    assert retained_for(broker.port, t, qos=1, count=1)[0].qos == 1
    assert retained_for(broker.port, t, qos=2, count=1)[0].qos == 2


def test_retained_qos0_publish_stored(broker):
    t = unique("ret") + "/q0"
    with raw.connected(broker.port, unique("p")) as p:
        p.send(raw.publish(t, b"zero", retain=True))
        p.do_disconnect()
    got = retained_for(broker.port, t, qos=2, count=1)
    assert (got[0].payload, got[0].qos, got[0].retain) == (b"zero", 0, True)


def test_non_retained_publish_does_not_replace_retained(broker):
    t = unique("ret") + "/n"
    p = raw.connected(broker.port, unique("p"))
    p.do_publish(t, b"kept", qos=1, retain=True, mid=1)
    p.do_publish(t, b"transient", qos=1, retain=False, mid=2)
    got = retained_for(broker.port, t, count=1)
    assert got[0].payload == b"kept"
