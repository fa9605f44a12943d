"""15: hostile clients. Each case closes (or refuses) the offender while a healthy QoS 1
subscriber/publisher pair, connected before, keeps exchanging messages in a background thread
throughout, in order and without loss. Cases test_09/test_10 already cover (bad PUBLISH topics,
QoS 3, packet id 0, reserved flags, SUBSCRIBE without filters or with `#` inside, a silent
TCP client, max_packet_size) are not repeated; resource cases also bound the broker's memory."""
import socket
import threading
import time

import pytest

import mqtt_raw as raw
from conftest import is_mosquitto
from helpers import HealthyPair, assert_broker_healthy, unique

MiB = 1024 * 1024


def rss(broker) -> int:
    """The broker process's resident set size in bytes."""
    with open(f"/proc/{broker.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PairLoop:
    """A HealthyPair exchanging QoS 1 messages in a thread until `finish()`; each check waits for
    exactly the next message, so a lost or reordered one fails the test."""

    def __init__(self, port: int):
        self.pair = HealthyPair(port)
        self.pair.check()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                self.pair.check()
                time.sleep(0.02)
        except BaseException as e:  # reported by finish()
            self._error = e

    def finish(self) -> int:
        self._stop.set()
        self._thread.join(20)
        assert not self._thread.is_alive(), "healthy pair stuck"
        if self._error is not None:
            raise AssertionError(f"healthy pair failed after {self.pair.n} messages: {self._error!r}")
        self.pair.check()
        n = self.pair.n
        self.pair.close()
        return n


@pytest.fixture
def pair_loop():
    loops = []

    def start(port):
        loop = PairLoop(port)
        loops.append(loop)
        return loop

    yield start
    for loop in loops:
        if not loop._stop.is_set():
            loop.finish()


def closed_or_refused(c: raw.RawClient, timeout: float = 3.0) -> None:
    """The broker closes `c`, answering at most with a refusing CONNACK."""
    try:
        p = c.recv(timeout)
    except raw.Closed:
        return
    except TimeoutError:
        raise AssertionError("connection still open") from None
    assert p.type == raw.CONNACK and p.rc != 0, f"unexpected {p!r}"
    assert c.wait_closed(timeout) == "closed"


# ---- framing -------------------------------------------------------------------------
def test_remaining_length_five_bytes_before_connect(broker, pair_loop):
    loop = pair_loop(broker.port)
    c = raw.RawClient(broker.port)
    c.send(bytes([0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 16)
    closed_or_refused(c)
    loop.finish()


def test_truncated_packet_then_silence_closed_by_keepalive(broker, pair_loop):
    # After CONNECT the connect timeout no longer applies: an incomplete packet does not count
    # as activity, so keepalive (1.5 x 1 s) ends it. mosquitto is coarser (3-5 s).
    loop = pair_loop(broker.port)
    c = raw.connected(broker.port, unique("trunc"), keepalive=1)
    start = time.monotonic()
    c.send(raw.publish("a/b", b"x" * 1000)[:20])
    assert c.wait_closed(8) == "closed"
    assert time.monotonic() - start >= 0.9
    loop.finish()


@pytest.mark.ours_only  # mosquitto has no default max_packet_size: it waits for the data
def test_claimed_256mb_packet_rejected_by_default(broker, pair_loop):
    loop = pair_loop(broker.port)
    before = rss(broker)
    c = raw.connected(broker.port, unique("huge"))
    c.try_send(bytes([0x30]) + raw.encode_remaining_length(268_435_455) + b"\x00\x03a/b" + b"x" * 1000)
    assert c.wait_closed(3) == "closed"
    assert rss(broker) - before < 16 * MiB
    loop.finish()


@pytest.mark.ours_only  # connect_timeout_seconds
def test_claimed_256mb_packet_not_allocated_before_its_bytes(broker_factory, pair_loop):
    b = broker_factory(max_packet_size=268_435_455, connect_timeout_seconds=1)
    loop = pair_loop(b.port)
    before = rss(b)
    c = raw.connected(b.port, unique("huge"), keepalive=2)
    claim = 256 * MiB - 16  # with the fixed header just under max_packet_size
    c.send(bytes([0x30]) + raw.encode_remaining_length(claim) + b"\x00\x03a/b" + b"x" * (2 * MiB))
    time.sleep(0.5)
    grown = rss(b) - before
    assert grown < 32 * MiB, f"broker RSS grew {grown // MiB} MiB for 2 MiB received"
    assert c.wait_closed(6) == "closed"  # keepalive: the packet never completes
    # pre-CONNECT: the same claim on a CONNECT, closed by the connect timeout
    c = raw.RawClient(b.port)
    c.send(bytes([0x10]) + raw.encode_remaining_length(claim) + b"\x00\x04MQTT\x04\x02" + b"x" * MiB)
    assert c.wait_closed(4) == "closed"
    assert rss(b) - before < 32 * MiB
    loop.finish()


# ---- before CONNECT ------------------------------------------------------------------
@pytest.mark.parametrize("packet", [
    pytest.param(raw.publish("a/b", b"x"), id="publish"),
    pytest.param(raw.subscribe(1, [("#", 0)]), id="subscribe"),
    pytest.param(raw.pingreq(), id="pingreq"),
    pytest.param(raw.puback(1), id="puback"),
    pytest.param(raw.disconnect(), id="disconnect"),
])
def test_first_packet_not_connect(broker, pair_loop, packet):
    loop = pair_loop(broker.port)
    c = raw.RawClient(broker.port)
    c.send(packet)
    closed_or_refused(c)
    loop.finish()


@pytest.mark.parametrize("kind", [
    pytest.param("connect-claim-200mb", marks=pytest.mark.ours_only),  # mosquitto: no default limit
    "publish-2mb",
    pytest.param("connect-2mb", marks=pytest.mark.ours_only),
])
def test_huge_first_packet(broker, pair_loop, kind):
    loop = pair_loop(broker.port)
    before = rss(broker)
    c = raw.RawClient(broker.port)
    if kind == "connect-claim-200mb":
        data = bytes([0x10]) + raw.encode_remaining_length(200 * MiB) + b"\x00\x04MQTT\x04\x02\x00\x3c" + b"x" * 4096
    elif kind == "publish-2mb":
        data = raw.publish("a/b", b"x" * (2 * MiB))
    else:  # a valid CONNECT followed by 2 MiB more inside the packet
        data = raw.fixed(raw.CONNECT, 0, raw.connect(unique("big"))[2:] + b"x" * (2 * MiB))
    c.try_send(data)
    closed_or_refused(c, 5)
    assert rss(broker) - before < 32 * MiB
    loop.finish()


# ---- topics, ids ---------------------------------------------------------------------
@pytest.mark.ours_only  # ours refuses the filter with 0x80 and keeps the client; mosquitto closes
def test_subscribe_65000_levels(broker, pair_loop):
    loop = pair_loop(broker.port)
    deep = "/" * 65000
    c = raw.connected(broker.port, unique("deep"))
    c.do_subscribe([(deep, 1), ("ok/" + unique("t"), 1)], expect_codes=[0x80, 1])
    c.send(raw.unsubscribe(3, [deep]))
    assert c.expect(raw.UNSUBACK).mid == 3
    c.send(raw.publish(deep, b"deep", qos=1, mid=4))
    assert c.wait_closed(3) == "closed"
    loop.finish()


@pytest.mark.ours_only  # mosquitto's limit is a fixed 200 levels; its answer to a deep will is not pinned here
def test_will_topic_with_65000_levels(broker, pair_loop):
    # Regression: the will topic escaped max_topic_levels; stored as a retained message, a later
    # `#` subscription recursed 65,001 levels deep and crashed the broker.
    loop = pair_loop(broker.port)
    c = raw.RawClient(broker.port)
    c.send(raw.connect(unique("deep-will"), will_topic="/" * 65000, will_payload=b"x", will_retain=True))
    closed_or_refused(c)
    sub = raw.connected(broker.port, unique("all"))
    sub.do_subscribe([("#", 0)])
    deadline = time.monotonic() + 0.8  # the pair's messages arrive too; the deep will must not
    while (left := deadline - time.monotonic()) > 0:
        try:
            p = sub.recv(left)
        except TimeoutError:
            break
        assert p.topic.startswith("pair-"), p
    sub.do_disconnect()
    loop.finish()


@pytest.mark.ours_only  # max_topic_levels
def test_deepest_allowed_topics(broker_factory, pair_loop):
    # At the configurable maximum (1024 levels) filters, topics, retained messages and their
    # removal all work, and deeper ones are refused.
    b = broker_factory(max_topic_levels=1024)
    loop = pair_loop(b.port)
    deep = "/" * 1023
    sub = raw.connected(b.port, unique("deep-sub"))
    sub.do_subscribe([(deep, 1), (deep[:-1] + "#", 1), (deep + "/", 1)], expect_codes=[1, 1, 0x80])
    pub = raw.connected(b.port, unique("deep-pub"))
    pub.do_publish(deep, b"deep", qos=1, retain=True)
    assert [p.payload for p in sub.collect_publishes(1, 10)] == [b"deep"]
    late = raw.connected(b.port, unique("deep-late"))
    late.do_subscribe([("#", 0)])
    assert [p.payload for p in late.collect_publishes(1, 10)] == [b"deep"]
    late.close()
    pub.do_publish(deep, b"", qos=1, retain=True)  # clears the retained message
    assert [p.payload for p in sub.collect_publishes(1, 10)] == [b""]
    sub.do_disconnect()
    pub.send(raw.publish(deep + "/", b"too deep", qos=1, mid=5))
    assert pub.wait_closed(3) == "closed"
    assert_broker_healthy(b.port)
    loop.finish()


def test_wildcards_in_client_id_and_username_are_plain_text(broker, pair_loop):
    loop = pair_loop(broker.port)
    ids = ["+", "#", "a/+", "a/#", unique("plain")]
    clients = [raw.connected(broker.port, cid, username=cid) for cid in ids]
    # none took over another: each still answers, and gets only its own topic
    for i, c in enumerate(clients):
        c.do_subscribe([(f"ids/{i}", 1)], mid=1, expect_codes=[1])
    for i, c in enumerate(clients):
        c.do_publish(f"ids/{i}", f"m{i}".encode(), qos=1, mid=2)
    for i, c in enumerate(clients):
        p = c.expect(raw.PUBLISH)
        assert p.payload == f"m{i}".encode(), p
        c.send(raw.puback(p.mid))
        c.expect_nothing(0.2)
    for c in clients:
        c.do_disconnect()
    loop.finish()


# ---- QoS 2 ids without PUBREL --------------------------------------------------------
@pytest.mark.ours_only  # mosquitto 2.0.11 closes a client that reuses an unreleased QoS 2 id
def test_qos2_same_packet_id_repeated_without_pubrel(broker, pair_loop):
    loop = pair_loop(broker.port)
    topic = unique("q2")
    watcher = raw.connected(broker.port, unique("watch"))
    watcher.do_subscribe([(topic, 0)])
    before = rss(broker)
    c = raw.connected(broker.port, unique("q2"))
    # the same id 5,000 times without PUBREL: 5,000 PUBRECs, one delivery (deduplicated until
    # PUBREL, see README), constant memory
    c.send(raw.publish(topic, b"same", qos=2, mid=7) * 5000)
    for _ in range(5000):
        assert c.expect(raw.PUBREC, 10).mid == 7
    assert watcher.expect(raw.PUBLISH).payload == b"same"
    watcher.expect_nothing(0.5)
    assert rss(broker) - before < 16 * MiB
    c.send(raw.pubrel(7))
    assert c.expect(raw.PUBCOMP).mid == 7
    c.do_publish(topic, b"after release", qos=2, mid=7)
    assert watcher.expect(raw.PUBLISH).payload == b"after release"
    c.do_disconnect()
    loop.finish()


def test_qos2_every_packet_id_unreleased(broker, pair_loop):
    # every id once, none released: the broker's table is bounded by the id space
    loop = pair_loop(broker.port)
    topic = unique("q2")
    before = rss(broker)
    c = raw.connected(broker.port, unique("q2"))
    c.send(b"".join(raw.publish(topic, b"i", qos=2, mid=i) for i in range(1, 65536)))
    for i in range(1, 65536):
        assert c.expect(raw.PUBREC, 10).mid == i
    grown = rss(broker) - before
    assert grown < 48 * MiB, f"RSS grew {grown // MiB} MiB"
    c.send(b"".join(raw.pubrel(i) for i in range(1, 65536)))
    for i in range(1, 65536):
        assert c.expect(raw.PUBCOMP, 10).mid == i
    c.do_disconnect()
    loop.finish()


# ---- slow and idle clients -----------------------------------------------------------
@pytest.mark.ours_only  # connect_timeout_seconds
def test_slow_loris_before_connect(broker_factory, pair_loop):
    b = broker_factory(connect_timeout_seconds=1)
    loop = pair_loop(b.port)
    c = raw.RawClient(b.port)
    data = raw.connect(unique("loris"))
    start = time.monotonic()
    for byte in data[:-1]:
        if not c.try_send(bytes([byte])):
            break
        time.sleep(0.25)
        if time.monotonic() - start > 4:
            break
    assert c.wait_closed(2) == "closed"
    assert time.monotonic() - start < 3.5, "a byte every 250 ms kept the connection past the connect timeout"
    loop.finish()


def test_slow_loris_after_connect(broker, pair_loop):
    loop = pair_loop(broker.port)
    c = raw.connected(broker.port, unique("loris"), keepalive=1)
    data = raw.publish("a/" + "b" * 100, b"x")
    start = time.monotonic()
    for byte in data:
        if not c.try_send(bytes([byte])):
            break
        time.sleep(0.25)
        if time.monotonic() - start > 10:
            break
    assert c.wait_closed(2) == "closed"
    assert time.monotonic() - start < 9, "a byte every 250 ms counted as keepalive activity"
    loop.finish()


@pytest.mark.ours_only  # the 4 MiB / 16 MiB bounds are ours
def test_client_that_never_reads(broker_factory, pair_loop):
    broker = broker_factory(sys_interval=1)
    loop = pair_loop(broker.port)
    topic = unique("flood")
    sys_dropped = raw.connected(broker.port, unique("sys"))
    sys_dropped.do_subscribe([("$SYS/broker/publish/messages/dropped", 0)])
    slow = raw.connected(broker.port, unique("slow"))
    slow.do_subscribe([(topic, 1)], expect_codes=[1])
    pub = raw.connected(broker.port, unique("flooder"))
    before = rss(broker)
    # QoS 0 beyond what the socket takes: dropped above 4 MiB queued; the client stays.
    chunk = b"z" * (64 * 1024)
    for _ in range(6):
        pub.send(raw.publish(topic, chunk, qos=0) * 64)  # 6 x 4 MiB
        pub.send(raw.pingreq())
        pub.expect(raw.PINGRESP, 10)
    grown = rss(broker) - before
    assert grown < 40 * MiB, f"RSS grew {grown // MiB} MiB for a client that does not read QoS 0"
    deadline = time.monotonic() + 5
    while int(sys_dropped.expect(raw.PUBLISH, 5).payload) == 0:
        assert time.monotonic() < deadline, "no QoS 0 message counted as dropped"
    # QoS 1 cannot be dropped while in flight: 20 x 900 KiB behind a blocked write > 16 MiB.
    big = b"Q" * (900 * 1024)
    for i in range(1, 25):
        pub.do_publish(topic, big, qos=1, mid=i)
    time.sleep(0.5)
    assert slow.wait_closed(15, allow_packets=True) == "closed"
    assert rss(broker) - before < 80 * MiB
    pub.do_disconnect()
    loop.finish()


# ---- connection churn ----------------------------------------------------------------
@pytest.mark.ours_only  # mosquitto leaks max_connections slots on pre-CONNECT closes (test_10)
def test_thousands_of_connections_dropped_mid_connect(broker_factory, pair_loop):
    b = broker_factory(max_connections=60, connect_timeout_seconds=1)
    loop = pair_loop(b.port)
    before = rss(b)
    partial = raw.connect(unique("half"), will_topic="w", will_payload=b"p")[:12]
    for batch in range(40):
        socks = []
        for _ in range(50):
            try:
                s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
                s.sendall(partial)
                socks.append(s)
            except OSError:
                pass  # refused at the limit while earlier closes are in flight: fine
        for i, s in enumerate(socks):
            if (i + batch) % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
    time.sleep(0.5)
    # no slot leaked: 58 more clients fit beside the pair, the 61st connection is refused
    clients = [raw.connected(b.port, unique(f"fit{i}")) for i in range(58)]
    extra = raw.RawClient(b.port)
    extra.try_send(raw.connect(unique("extra")))
    closed_or_refused(extra)
    for c in clients:
        c.do_disconnect()
    assert rss(b) - before < 32 * MiB
    loop.finish()


def test_session_takeover_storm(broker_factory, pair_loop):
    broker = broker_factory(ours_extra={"log": {"level": "debug"}})
    loop = pair_loop(broker.port)
    before = rss(broker)
    cid = unique("storm")
    stop = time.monotonic() + 8
    errors: list[BaseException] = []
    rounds = [0, 0]

    def churn(n: int):
        i = 0
        while time.monotonic() < stop:
            i += 1
            try:
                c = raw.RawClient(broker.port)
                c.send(raw.connect(cid, clean=(i + n) % 3 == 0, will_topic=f"storm/{n}", will_payload=b"w"))
                c.send(raw.subscribe(1, [(f"storm/{n}/{i % 5}", 1), ("storm/#", 0)]))
                c.send(raw.unsubscribe(2, [f"storm/{n}/{(i + 2) % 5}"]))
                c.send(raw.publish(f"storm/{n}/{i % 5}", b"x", qos=1, mid=3))
                if i % 4 == 0:
                    c.send(raw.disconnect())
                elif i % 4 == 1:
                    c.abort()
                    continue
                try:
                    for _ in range(3):
                        c.recv(0.05)
                except (raw.Closed, TimeoutError):
                    pass
                c.close()
                rounds[n] += 1
            except (raw.Closed, OSError):
                pass  # taken over by the other one
            except BaseException as e:
                errors.append(e)
                return

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sum(rounds) > 50, rounds
    # the id is still usable (a clean CONNECT discards what the storm left) and the broker serves
    c = raw.connected(broker.port, cid, clean=True)
    c.do_subscribe([("storm/final", 1)], expect_codes=[1])
    c.do_publish("storm/final", b"end", qos=1, mid=9)
    assert c.expect(raw.PUBLISH).payload == b"end"
    c.do_disconnect()
    assert_broker_healthy(broker.port)
    grown = rss(broker) - before
    assert grown < 48 * MiB, f"RSS grew {grown // MiB} MiB"
    loop.finish()
