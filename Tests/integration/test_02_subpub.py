"""02: SUBSCRIBE / UNSUBSCRIBE / PUBLISH routing, wildcards, $-topics."""
import pytest

import mqtt_raw as raw
from helpers import assert_broker_healthy, unique

def received_topics(sub: raw.RawClient, sentinel_topic: str, timeout: float = 5.0) -> list[str]:
    """Topics received up to and including the sentinel (payload b"end"), then wait a little
    more to catch late (wrongly routed) messages."""
    out = []
    while True:
        p = sub.recv(timeout)
        assert p.type == raw.PUBLISH, p
        if p.qos:
            sub.ack_publish(p)
        out.append(p.topic)
        if p.payload == b"end":
            assert p.topic == sentinel_topic, p
            break
    sub.expect_nothing(0.5)
    return out


def route(port, filters, publish_topics, sentinel_filter_match: str):
    """Subscribe `filters`, publish each topic (QoS 0), then a sentinel that matches;
    return received topics in order (sentinel excluded)."""
    sub = raw.connected(port, unique("sub"))
    sub.do_subscribe([(f, 0) for f in filters], expect_codes=[0] * len(filters))
    pub = raw.connected(port, unique("pub"))
    for t in publish_topics:
        pub.send(raw.publish(t, b"m"))
    pub.send(raw.publish(sentinel_filter_match, b"end"))
    got = received_topics(sub, sentinel_filter_match)
    assert got[-1] == sentinel_filter_match
    return got[:-1]


def test_exact_match_and_case_sensitivity(broker):
    r = unique("r")
    got = route(broker.port, [f"{r}/a/b"],
                [f"{r}/a/b", f"{r}/A/b", f"{r}/a/b/", f"/{r}/a/b", f"{r}/a", f"{r}/a/b"],
                f"{r}/a/b")
    assert got == [f"{r}/a/b", f"{r}/a/b"]


def test_single_level_wildcard(broker):
    r = unique("r")
    got = route(broker.port, [f"{r}/+/c"],
                [f"{r}/b/c", f"{r}/b/d", f"{r}/b/c/d", f"{r}//c", f"{r}/c", f"{r}/x/c"],
                f"{r}/end/c")
    assert got == [f"{r}/b/c", f"{r}//c", f"{r}/x/c"]


def test_single_level_wildcard_alone_and_leading_slash(broker):
    r = unique("r")
    # "+" matches exactly one level; "+/+" matches "/x" (empty first level)
    got = route(broker.port, ["+/+"], [f"{r}", f"/{r}", f"{r}/a/b", f"{r}/a"], f"{r}/z")
    assert got == [f"/{r}", f"{r}/a"]


def test_multi_level_wildcard(broker):
    r = unique("r")
    got = route(broker.port, [f"{r}/a/#"],
                [f"{r}/a/b", f"{r}/a/b/c/d", f"{r}/b/a", f"{r}/ab", f"{r}/a/", f"{r}/a"],
                f"{r}/a/end")
    # "a/#" also matches the parent "a" itself
    assert got == [f"{r}/a/b", f"{r}/a/b/c/d", f"{r}/a/", f"{r}/a"]


def test_hash_alone_matches_everything(broker):
    r = unique("r")
    got = route(broker.port, ["#"], [f"{r}", f"{r}/a", f"/{r}", f"{r}/a/b/c"], f"{r}/end")
    assert got == [f"{r}", f"{r}/a", f"/{r}", f"{r}/a/b/c"]


def test_plus_and_hash_combined(broker):
    r = unique("r")
    got = route(broker.port, [f"{r}/+/x/#"],
                [f"{r}/a/x", f"{r}/a/x/y/z", f"{r}/a/y/x", f"{r}/x"],
                f"{r}/end/x/end")
    assert got == [f"{r}/a/x", f"{r}/a/x/y/z"]


def test_dollar_topics_not_matched_by_leading_wildcards(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([("#", 0), ("+/x", 0), ("+/+", 0)], expect_codes=[0, 0, 0])
    dsub = raw.connected(broker.port, unique("ds"))
    dsub.do_subscribe([(f"${r}/#", 0)], expect_codes=[0])
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(f"${r}/x", b"dollar"))
    pub.send(raw.publish(f"{r}/x", b"plain"))
    # the $-subscriber sees the $ topic, the wildcard subscriber only the plain one
    p = dsub.expect(raw.PUBLISH)
    assert (p.topic, p.payload) == (f"${r}/x", b"dollar")
    p = sub.expect(raw.PUBLISH)
    assert (p.topic, p.payload) == (f"{r}/x", b"plain")
    sub.expect_nothing(1.0)


def test_sys_topics_only_via_explicit_sys_filter(broker_factory):
    b = broker_factory(sys_interval=1)
    wild = raw.connected(b.port, unique("wild"))
    wild.do_subscribe([("#", 0), ("+/broker/#", 0), ("+/+/+", 0)], expect_codes=[0, 0, 0])
    sys_sub = raw.connected(b.port, unique("sys"))
    sys_sub.do_subscribe([("$SYS/#", 0)], expect_codes=[0])
    p = sys_sub.expect(raw.PUBLISH, timeout=5)
    assert p.topic.startswith("$SYS/")
    # over more than two $SYS intervals, the wildcard subscriber sees no $SYS message
    try:
        while True:
            q = wild.recv(2.5)
            assert not q.topic.startswith("$"), f"'#'/'+' matched a $ topic: {q!r}"
    except TimeoutError:
        pass


def test_overlapping_subscriptions_delivered_once(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("ov"))
    sub.do_subscribe([(f"{r}/+", 1), (f"{r}/#", 1), (f"{r}/a", 1)], expect_codes=[1, 1, 1])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/a", b"one", qos=1)
    p = sub.expect(raw.PUBLISH)
    assert (p.topic, p.payload) == (f"{r}/a", b"one")
    sub.send(raw.puback(p.mid))
    sub.expect_nothing(1.0)


@pytest.mark.ours_only
# mosquitto 2.0.11 delivers one copy at the QoS of the first matching subscription in its
# tree walk (e.g. "a/b" QoS 0 wins over "a/#" QoS 2), not at the maximum as MQTT-3.3.5-1 requires.
@pytest.mark.parametrize("filters", [
    [("{r}/b", 0), ("{r}/#", 2)],
    [("{r}/#", 2), ("{r}/+", 1)],
    [("+/b", 1), ("{r}/+", 2), ("#", 0)],
])
def test_overlapping_subscriptions_highest_qos(broker, filters):
    r = unique("r")
    subs = [(f.format(r=r), q) for f, q in filters]
    sub = raw.connected(broker.port, unique("ov"))
    sub.do_subscribe(subs, expect_codes=[q for _, q in subs])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/b", b"x", qos=2)
    p = sub.expect(raw.PUBLISH)
    assert p.qos == 2, p
    sub.ack_publish(p)
    sub.expect_nothing(1.0)


def test_suback_grants_requested_qos(broker):
    r = unique("r")
    c = raw.connected(broker.port, unique("s"))
    c.send(raw.subscribe(42, [(f"{r}/0", 0), (f"{r}/1", 1), (f"{r}/2", 2), (f"{r}/#", 1)]))
    ack = c.expect(raw.SUBACK)
    assert ack.mid == 42
    assert ack.codes == [0, 1, 2, 1]


def test_resubscribe_replaces_qos(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 2)], mid=1, expect_codes=[2])
    sub.do_subscribe([(f"{r}/t", 0)], mid=2, expect_codes=[0])
    pub = raw.connected(broker.port, unique("p"))
    pub.do_publish(f"{r}/t", b"x", qos=2)
    p = sub.expect(raw.PUBLISH)
    assert p.qos == 0
    sub.expect_nothing(0.7)


def test_unsubscribe_stops_delivery(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/a", 0), (f"{r}/b", 0)], expect_codes=[0, 0])
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(f"{r}/a", b"1"))
    assert sub.expect(raw.PUBLISH).payload == b"1"
    sub.send(raw.unsubscribe(77, [f"{r}/a"]))
    ack = sub.expect(raw.UNSUBACK)
    assert ack.mid == 77
    pub.send(raw.publish(f"{r}/a", b"2"))
    pub.send(raw.publish(f"{r}/b", b"3"))
    p = sub.expect(raw.PUBLISH)
    assert (p.topic, p.payload) == (f"{r}/b", b"3")
    sub.expect_nothing(0.7)


def test_unsubscribe_unknown_filter_acked(broker):
    c = raw.connected(broker.port, unique("s"))
    c.send(raw.unsubscribe(9, ["never/subscribed", "x/#"]))
    assert c.expect(raw.UNSUBACK).mid == 9
    assert_broker_healthy(broker.port)


def test_unsubscribe_wildcard_filter_is_literal(broker):
    """UNSUBSCRIBE "a/#" removes only the subscription "a/#", not "a/b"."""
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/#", 0), (f"{r}/b", 0)], expect_codes=[0, 0])
    sub.send(raw.unsubscribe(3, [f"{r}/#"]))
    sub.expect(raw.UNSUBACK)
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(f"{r}/c", b"no"))
    pub.send(raw.publish(f"{r}/b", b"yes"))
    p = sub.expect(raw.PUBLISH)
    assert (p.topic, p.payload) == (f"{r}/b", b"yes")
    sub.expect_nothing(0.7)


@pytest.mark.parametrize("bad", ["a/b+", "a/#/b", "a/+b/c", "#a", "a/b#"])
def test_invalid_filter_closes_connection(broker, bad):
    # 3.1.1 has no SUBACK failure code for a malformed filter: it is a protocol violation
    # (mosquitto closes the connection).
    c = raw.connected(broker.port, unique("inv"))
    c.send(raw.subscribe(1, [("ok/topic", 0), (bad, 0)]))
    assert c.wait_closed(3) == "closed"
    assert_broker_healthy(broker.port)


def test_fan_out_and_self_delivery(broker):
    r = unique("r")
    subs = [raw.connected(broker.port, unique("s")) for _ in range(5)]
    for s in subs:
        s.do_subscribe([(f"{r}/t", 0)])
    subs[0].send(raw.publish(f"{r}/t", b"all"))
    for s in subs:  # publisher gets its own message too (no "no local" in 3.1.1)
        p = s.expect(raw.PUBLISH)
        assert (p.topic, p.payload) == (f"{r}/t", b"all")


def test_payloads_binary_empty_and_large(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/t", 1)])
    pub = raw.connected(broker.port, unique("p"))
    payloads = [bytes(range(256)), b"", b"\x00" * 10, bytes(i % 251 for i in range(300_000))]
    for i, pl in enumerate(payloads, start=1):
        pub.do_publish(f"{r}/t", pl, qos=1, mid=i)
    got = sub.collect_publishes(len(payloads), timeout=10)
    assert [p.payload for p in got] == payloads


def test_utf8_topic_names(broker):
    sub = raw.connected(broker.port, unique("s"))
    topic = "ünïcödé/日本/🙂/" + unique()
    sub.do_subscribe([("ünïcödé/+/🙂/#", 0)])
    pub = raw.connected(broker.port, unique("p"))
    pub.send(raw.publish(topic, b"u"))
    assert sub.expect(raw.PUBLISH).topic == topic


def test_qos0_order_preserved(broker):
    r = unique("r")
    sub = raw.connected(broker.port, unique("s"))
    sub.do_subscribe([(f"{r}/o", 0)])
    pub = raw.connected(broker.port, unique("p"))
    pub.send(b"".join(raw.publish(f"{r}/o", str(i).encode()) for i in range(500)))
    got = sub.collect_publishes(500, timeout=10)
    assert [int(p.payload) for p in got] == list(range(500))
