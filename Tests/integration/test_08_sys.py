"""08: $SYS topics (broker started with a 1 s $SYS interval)."""
import re

import pytest

import mqtt_raw as raw
from helpers import unique

SYS_TOPICS = [
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/subscriptions/count",
    "$SYS/broker/retained messages/count",
]


@pytest.fixture
def sys_broker(broker_factory):
    return broker_factory(sys_interval=1)


def first_int(payload: bytes) -> int:
    m = re.search(rb"\d+", payload)
    assert m, f"no number in {payload!r}"
    return int(m.group())


def sys_value(port, topic, timeout=4.0):
    c = raw.connected(port, unique("sys"))
    c.do_subscribe([(topic, 0)])
    p = c.expect(raw.PUBLISH, timeout)
    assert p.topic == topic
    c.do_disconnect()
    return p.payload


@pytest.mark.parametrize("topic", SYS_TOPICS)
def test_sys_topic_published(sys_broker, topic):
    payload = sys_value(sys_broker.port, topic)
    assert payload, f"{topic} has an empty payload"
    if topic != "$SYS/broker/version":
        first_int(payload)


def test_sys_all_via_wildcard(sys_broker):
    c = raw.connected(sys_broker.port, unique("sys"))
    c.do_subscribe([("$SYS/#", 0)])
    seen = set()
    try:
        while not set(SYS_TOPICS) <= seen:
            seen.add(c.expect(raw.PUBLISH, 4.0).topic)
    except TimeoutError:
        pass
    assert set(SYS_TOPICS) <= seen, f"missing: {set(SYS_TOPICS) - seen}"


def test_sys_version_names_broker(sys_broker):
    assert sys_value(sys_broker.port, "$SYS/broker/version").strip()


def test_sys_uptime_increases(sys_broker):
    c = raw.connected(sys_broker.port, unique("sys"))
    c.do_subscribe([("$SYS/broker/uptime", 0)])
    values = [first_int(c.expect(raw.PUBLISH, 4.0).payload)]
    while values[-1] <= values[0]:
        values.append(first_int(c.expect(raw.PUBLISH, 4.0).payload))
    assert values[-1] > values[0]


def test_sys_counters_follow_activity(sys_broker):
    port = sys_broker.port
    clients = [raw.connected(port, unique("cnt")) for _ in range(3)]
    t = unique("cnt")
    for i, c in enumerate(clients):
        c.do_subscribe([(f"{t}/{i}/#", 0)])
    before_recv = first_int(sys_value(port, "$SYS/broker/messages/received"))
    for i in range(20):
        clients[0].send(raw.publish(f"{t}/1/x", b"m"))
    clients[1].collect_publishes(20)
    import time
    deadline = time.monotonic() + 6
    while True:
        connected = first_int(sys_value(port, "$SYS/broker/clients/connected"))
        received = first_int(sys_value(port, "$SYS/broker/messages/received"))
        subs = first_int(sys_value(port, "$SYS/broker/subscriptions/count"))
        sent = first_int(sys_value(port, "$SYS/broker/messages/sent"))
        if received >= before_recv + 20 or time.monotonic() > deadline:
            break
    assert connected >= 3  # our three (+ the short-lived $SYS reader)
    assert received >= before_recv + 20
    assert subs >= 3
    assert sent >= 20


def test_sys_retained_count(sys_broker):
    port = sys_broker.port
    t = unique("rc")
    p = raw.connected(port, unique("p"))
    for i in range(5):
        p.do_publish(f"{t}/{i}", b"r", qos=1, retain=True, mid=i + 1)
    import time
    deadline = time.monotonic() + 5
    while first_int(sys_value(port, "$SYS/broker/retained messages/count")) < 5:
        assert time.monotonic() < deadline, "retained messages/count never reached 5"


def test_client_cannot_publish_to_sys(sys_broker):
    port = sys_broker.port
    watcher = raw.connected(port, unique("w"))
    watcher.do_subscribe([("$SYS/#", 0)])
    evil = raw.connected(port, unique("evil"))
    evil.send(raw.publish("$SYS/broker/version", b"evil-version", retain=True))
    evil.send(raw.publish("$SYS/fake/topic", b"evil"))
    evil.do_publish("$SYS/fake/qos1", b"evil", qos=1)  # may be acked, but not delivered
    import time
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:
            m = watcher.recv(max(0.01, end - time.monotonic()))
        except TimeoutError:
            break
        assert b"evil" not in m.payload, f"client publish reached $SYS subscriber: {m!r}"
    assert b"evil" not in sys_value(port, "$SYS/broker/version")
