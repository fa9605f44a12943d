"""17: limits.queue_backpressure: a subscriber slower than its publishers slows them down
instead of losing messages (the publishers here keep a window of unacknowledged messages, as
real clients do); a stuck one stops doing so after a second. Mosquitto drops past
max_queued_messages, so these are ours_only (the `false` case shows mosquitto's behaviour)."""
import threading
import time

import pytest

import mqtt_raw as raw
from helpers import unique

WINDOW = 20


def _flood(port: int, topic: str, tag: int, count: int, acks: list[int], pause: float = 0.0) -> threading.Thread:
    """Publishes `count` QoS 1 messages "tag:i" as fast as PUBACKs allow (sleeping `pause` after
    each), with at most WINDOW unacknowledged (as paho and mosquitto_pub do by default);
    collects the PUBACKs in `acks`."""
    pub = raw.connected(port, unique("pub"))

    def run():
        sent = 0
        deadline = time.monotonic() + 30
        while len(acks) < count and time.monotonic() < deadline:
            while sent < count and sent - len(acks) < WINDOW:
                pub.send(raw.publish(topic, f"{tag}:{sent}".encode(), qos=1, mid=sent + 1))
                sent += 1
                if pause:
                    time.sleep(pause)
            try:
                packet = pub.recv(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if packet.type == raw.PUBACK:
                acks.append(packet.mid)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _slow_read(sub: raw.RawClient, expected: int, per_message: float) -> list[str]:
    """Reads and acknowledges publishes, sleeping `per_message` after each, until `expected`
    arrived or nothing came for 3 s."""
    got = []
    while len(got) < expected:
        try:
            packet = sub.recv(timeout=3)
        except TimeoutError:
            break
        if packet.type != raw.PUBLISH:
            continue
        got.append(packet.payload.decode())
        sub.send(raw.puback(packet.mid))
        time.sleep(per_message)
    return got


def _slow_subscriber_run(broker, publishers: int, count: int, pause: float = 0.0):
    """Windowed publishers against a subscriber reading at most about 1,000 messages a second
    (several times slower than they publish). Returns, per publisher, the sequence numbers the
    subscriber got (in arrival order) and the PUBACKs the publisher got."""
    topic = unique("bp")
    sub = raw.connected(broker.port, unique("sub"))
    sub.do_subscribe([(topic, 1)], expect_codes=[1])
    acks: list[list[int]] = [[] for _ in range(publishers)]
    threads = [_flood(broker.port, topic, tag, count, acks[tag], pause) for tag in range(publishers)]
    got = _slow_read(sub, publishers * count, per_message=0.001)
    for t in threads:
        t.join(10)
    per_publisher: list[list[int]] = [[] for _ in range(publishers)]
    for payload in got:
        tag, seq = payload.split(":")
        per_publisher[int(tag)].append(int(seq))
    return per_publisher, acks


# With 4 shards, three publishers and the subscriber all on one shard is a 1-in-64 chance:
# the holds almost surely cross shards. A hold reaches another shard one hand-over later, and
# the queue absorbs what arrives meanwhile (up to twice its limit); on two busy cores that
# hand-over can take milliseconds, so these publishers pause 0.5 ms per message (still about
# five times what the subscriber reads) rather than flood as fast as the loopback allows.
@pytest.mark.ours_only
@pytest.mark.parametrize(("shards", "publishers", "count", "pause"), [(1, 1, 2000, 0.0), (4, 3, 700, 0.0005)])
def test_a_slow_subscriber_slows_its_publishers_and_loses_nothing(broker_factory, shards, publishers, count, pause):
    b = broker_factory(shards=shards, max_inflight_messages=5, max_queued_messages=100)
    got, acks = _slow_subscriber_run(b, publishers, count, pause)
    for tag in range(publishers):
        assert got[tag] == list(range(count)), f"publisher {tag}"
        assert sorted(acks[tag]) == list(range(1, count + 1)), f"publisher {tag}"


@pytest.mark.ours_only
def test_without_backpressure_the_overflow_is_dropped_as_mosquitto_does(broker_factory):
    b = broker_factory(shards=1, max_inflight_messages=5, max_queued_messages=100, queue_backpressure=False)
    got, acks = _slow_subscriber_run(b, 1, 2000)
    # the publisher was never slowed, so the queue overflowed and the oldest were kept
    assert len(acks[0]) == 2000
    assert len(got[0]) < 2000
    assert got[0] == sorted(got[0])


@pytest.mark.ours_only
def test_a_stuck_subscriber_holds_its_publisher_back_for_about_a_second_only(broker_factory):
    b = broker_factory(shards=1, max_inflight_messages=5, max_queued_messages=100)
    topic = unique("bp")
    stuck = raw.connected(b.port, unique("stuck"))
    stuck.do_subscribe([(topic, 1)], expect_codes=[1])
    acks: list[int] = []
    started = time.monotonic()
    _flood(b.port, topic, 0, 2000, acks).join(15)
    elapsed = time.monotonic() - started
    # held once 55 messages were in (window 5, half the queue), let go after a second without an
    # acknowledgement: unheld, the 2,000 take a fraction of a second
    assert sorted(acks) == list(range(1, 2001))
    assert 0.9 < elapsed < 8
    got = stuck.collect_publishes(5, ack=False)
    assert [p.payload for p in got] == [b"0:0", b"0:1", b"0:2", b"0:3", b"0:4"]
