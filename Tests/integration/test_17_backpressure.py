"""17: limits.queue_backpressure: a subscriber slower than its publishers slows them down
instead of losing messages (the publishers here keep a window of unacknowledged messages, as
real clients do); a stuck one stops doing so after a second. Mosquitto drops past
max_queued_messages, so these are ours_only (the `false` case shows mosquitto's behaviour)."""
import threading
import time

import pytest

import mqtt_raw as raw
from helpers import unique

MESSAGES = 2000
WINDOW = 20


def _flood(port: int, topic: str, acks: list[int]) -> threading.Thread:
    """Publishes MESSAGES QoS 1 messages as fast as PUBACKs allow, with at most WINDOW
    unacknowledged (as paho and mosquitto_pub do by default); collects the PUBACKs in `acks`."""
    pub = raw.connected(port, unique("pub"))

    def run():
        sent = 0
        deadline = time.monotonic() + 30
        while len(acks) < MESSAGES and time.monotonic() < deadline:
            while sent < MESSAGES and sent - len(acks) < WINDOW:
                pub.send(raw.publish(topic, str(sent).encode(), qos=1, mid=sent + 1))
                sent += 1
            try:
                packet = pub.recv(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if packet.type == raw.PUBACK:
                acks.append(packet.mid)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _slow_read(sub: raw.RawClient, expected: int, per_message: float) -> list[int]:
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
        got.append(int(packet.payload))
        sub.send(raw.puback(packet.mid))
        time.sleep(per_message)
    return got


@pytest.mark.ours_only
@pytest.mark.parametrize("shards", [1, 4])
def test_a_slow_subscriber_slows_its_publisher_and_loses_nothing(broker_factory, shards):
    b = broker_factory(shards=shards, max_inflight_messages=5, max_queued_messages=100)
    topic = unique("bp")
    sub = raw.connected(b.port, unique("sub"))
    sub.do_subscribe([(topic, 1)], expect_codes=[1])
    acks: list[int] = []
    publisher = _flood(b.port, topic, acks)
    # at most about 1,000 messages a second, several times slower than the publisher
    got = _slow_read(sub, MESSAGES, per_message=0.001)
    publisher.join(10)
    assert got == list(range(MESSAGES))
    assert sorted(acks) == list(range(1, MESSAGES + 1))


@pytest.mark.ours_only
def test_without_backpressure_the_overflow_is_dropped_as_mosquitto_does(broker_factory):
    b = broker_factory(shards=1, max_inflight_messages=5, max_queued_messages=100, queue_backpressure=False)
    topic = unique("bp")
    sub = raw.connected(b.port, unique("sub"))
    sub.do_subscribe([(topic, 1)], expect_codes=[1])
    acks: list[int] = []
    publisher = _flood(b.port, topic, acks)
    got = _slow_read(sub, MESSAGES, per_message=0.001)
    publisher.join(10)
    # the publisher was never slowed, so the queue overflowed and the oldest were kept
    assert len(acks) == MESSAGES
    assert len(got) < MESSAGES
    assert got == sorted(got)


@pytest.mark.ours_only
def test_a_stuck_subscriber_holds_its_publisher_back_for_about_a_second_only(broker_factory):
    b = broker_factory(shards=1, max_inflight_messages=5, max_queued_messages=100)
    topic = unique("bp")
    stuck = raw.connected(b.port, unique("stuck"))
    stuck.do_subscribe([(topic, 1)], expect_codes=[1])
    acks: list[int] = []
    started = time.monotonic()
    publisher = _flood(b.port, topic, acks)
    publisher.join(15)
    # every publish acknowledged, a second or two late at most; the stuck client got its window
    # and its queue (the rest was dropped), and is still connected
    assert sorted(acks) == list(range(1, MESSAGES + 1))
    assert time.monotonic() - started < 8
    got = stuck.collect_publishes(5, ack=False)
    assert [int(p.payload) for p in got] == [0, 1, 2, 3, 4]
