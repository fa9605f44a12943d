"""08: $SYS topics (broker started with a 1 s $SYS interval)."""
import re
import time

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


class SysWatcher:
    """One long-lived $SYS/# subscriber keeping the latest value of every $SYS topic
    ($SYS values are retained, so a fresh subscriber first sees a possibly stale one)."""

    def __init__(self, port):
        self.c = raw.connected(port, unique("syswatch"))
        self.c.do_subscribe([("$SYS/#", 0)])
        self.latest: dict[str, bytes] = {}

    def wait_for(self, pred, what, timeout=6.0):
        deadline = time.monotonic() + timeout
        while not pred(self.latest):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"$SYS never showed {what}; latest: {self.latest}"
            try:
                p = self.c.recv(remaining)
            except TimeoutError:
                continue
            self.latest[p.topic] = p.payload

    def value(self, topic):
        return first_int(self.latest[topic])


def _at_least(topic, n):
    return lambda latest: topic in latest and first_int(latest[topic]) >= n


def test_sys_counters_follow_activity(sys_broker):
    port = sys_broker.port
    w = SysWatcher(port)
    w.wait_for(lambda l: "$SYS/broker/messages/received" in l and "$SYS/broker/messages/sent" in l,
               "message counters")
    clients = [raw.connected(port, unique("cnt")) for _ in range(3)]
    t = unique("cnt")
    for i, c in enumerate(clients):
        c.do_subscribe([(f"{t}/{i}/#", 0), (f"{t}/all", 0)])
    w.wait_for(_at_least("$SYS/broker/clients/connected", 4), "clients/connected >= 4")
    w.wait_for(_at_least("$SYS/broker/subscriptions/count", 7), "subscriptions/count >= 7")
    recv0 = w.value("$SYS/broker/messages/received")
    sent0 = w.value("$SYS/broker/messages/sent")
    brecv0 = w.value("$SYS/broker/bytes/received")
    bsent0 = w.value("$SYS/broker/bytes/sent")
    for _ in range(20):
        clients[0].send(raw.publish(f"{t}/all", b"m" * 100))
    for c in clients:
        c.collect_publishes(20)
    w.wait_for(_at_least("$SYS/broker/messages/received", recv0 + 20), "messages/received +20")
    w.wait_for(_at_least("$SYS/broker/messages/sent", sent0 + 60), "messages/sent +60")
    w.wait_for(_at_least("$SYS/broker/bytes/received", brecv0 + 20 * 100), "bytes/received +2000")
    # each byte counted once: the 20 publishes are about 2,500 bytes on the wire
    assert w.value("$SYS/broker/bytes/received") - brecv0 < 2 * 20 * 100
    w.wait_for(_at_least("$SYS/broker/bytes/sent", bsent0 + 60 * 100), "bytes/sent +6000")
    for c in clients:
        c.do_disconnect()
    w.wait_for(lambda l: first_int(l["$SYS/broker/clients/connected"]) <= 1, "clients/connected back to 1")


def test_sys_retained_count(sys_broker):
    port = sys_broker.port
    w = SysWatcher(port)
    w.wait_for(lambda l: "$SYS/broker/retained messages/count" in l, "retained messages/count")
    base = w.value("$SYS/broker/retained messages/count")
    t = unique("rc")
    p = raw.connected(port, unique("p"))
    for i in range(5):
        p.do_publish(f"{t}/{i}", b"r", qos=1, retain=True, mid=i + 1)
    w.wait_for(_at_least("$SYS/broker/retained messages/count", base + 5), "retained count +5")
    high = w.value("$SYS/broker/retained messages/count")
    for i in range(5):
        p.do_publish(f"{t}/{i}", b"", qos=1, retain=True, mid=i + 10)
    # (mosquitto counts its own retained $SYS topics too, so compare relative to `high`)
    w.wait_for(lambda l: first_int(l["$SYS/broker/retained messages/count"]) <= high - 5,
               "retained count -5 after clearing")


def test_client_cannot_publish_to_sys(sys_broker):
    port = sys_broker.port
    watcher = raw.connected(port, unique("w"))
    watcher.do_subscribe([("$SYS/#", 0)])
    evil = raw.connected(port, unique("evil"))
    evil.send(raw.publish("$SYS/broker/version", b"evil-version", retain=True))
    evil.send(raw.publish("$SYS/fake/topic", b"evil"))
    evil.do_publish("$SYS/fake/qos1", b"evil", qos=1)  # may be acked, but not delivered
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:
            m = watcher.recv(max(0.01, end - time.monotonic()))
        except TimeoutError:
            break
        assert b"evil" not in m.payload, f"client publish reached $SYS subscriber: {m!r}"
    assert b"evil" not in sys_value(port, "$SYS/broker/version")
