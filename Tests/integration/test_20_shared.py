"""20: shared subscriptions ($share/group/filter, $queue/filter) from MQTT 3.1.1 clients, with the
broker on 4 shards (members land on different shards), real paho, mosquitto_sub and raw clients.
Tests of behaviour mosquitto does not have (strategies, $queue, redistribution, SUBACK 0x80 for
bad share names, no retained message on a shared subscribe, $SYS figures) are ours_only."""
import collections
import time

import pytest

import mqtt_raw as raw
from helpers import MosquittoSub, PahoClient, bcrypt_hash, unique


def publish_all(port: int, topic: str, payloads: list[bytes], qos: int = 1, client_id: str | None = None) -> None:
    """Publish every payload from one connection, pipelined, and wait for every acknowledgement."""
    pub = raw.connected(port, client_id or unique("pub"))
    batch = 200
    for start in range(0, len(payloads), batch):
        chunk = payloads[start:start + batch]
        mids = [(start + i) % 65535 + 1 for i in range(len(chunk))]
        pub.send(b"".join(raw.publish(topic, p, qos=qos, mid=m) for p, m in zip(chunk, mids)))
        if qos == 1:
            for m in mids:
                pub.expect_ack(raw.PUBACK, m, timeout=20)
    if qos == 0:
        pub.send(raw.pingreq())
        pub.expect(raw.PINGRESP, timeout=20)
    pub.do_disconnect()


def drain(client: PahoClient, settle: float = 1.0) -> list:
    """Everything `client` received until nothing came for `settle` seconds."""
    out = []
    while True:
        try:
            out.append(client.messages.get(timeout=settle))
        except Exception:
            return out


def test_each_message_reaches_one_member_and_every_plain_subscriber(broker):
    r = unique("share")
    members = [PahoClient(broker.port) for _ in range(3)]
    for m in members:
        assert m.subscribe(f"$share/workers/{r}/#", qos=1) == [1]
    sub_line = MosquittoSub(broker.port, [f"$share/workers/{r}/#"], qos=1, extra=["-F", "%p"])
    plain = PahoClient(broker.port)
    plain.subscribe(f"{r}/#", qos=1)
    time.sleep(0.5)  # mosquitto_sub has subscribed
    try:
        n = 400
        publish_all(broker.port, f"{r}/jobs", [str(i).encode() for i in range(n)])
        got_plain = plain.get_n(n, timeout=20)
        assert sorted(int(m.payload) for m in got_plain) == list(range(n))
        per_member = [[int(m.payload) for m in drain(c)] for c in members]
        lines = []
        while True:
            try:
                lines.append(int(sub_line.get_line(timeout=1.0)))
            except AssertionError:
                break
        per_member.append(lines)
        everything = [p for got in per_member for p in got]
        assert sorted(everything) == list(range(n)), "each message exactly once across the group"
        assert all(len(got) > 0 for got in per_member), [len(g) for g in per_member]
    finally:
        sub_line.stop()
        for c in members + [plain]:
            c.stop()


@pytest.mark.ours_only
def test_round_robin_balances_10000_messages_within_10_percent(broker):
    r = unique("rr")
    members = [PahoClient(broker.port) for _ in range(4)]
    for m in members:
        m.subscribe(f"$share/g/{r}", qos=1)
    try:
        n = 10_000
        for p in range(4):  # publishers on (likely) different shards, one after the other
            publish_all(broker.port, r, [f"{p}-{i}".encode() for i in range(n // 4)])
        counts = [len(drain(m, settle=2.0)) for m in members]
        assert sum(counts) == n, counts
        for c in counts:
            assert abs(c - n / 4) <= 0.1 * n / 4, counts
    finally:
        for m in members:
            m.stop()


@pytest.mark.ours_only
def test_a_killed_member_leaves_each_message_acknowledged_by_exactly_one_member(broker_factory):
    broker = broker_factory(max_inflight_messages=10)
    r = unique("kill")
    survivors = [PahoClient(broker.port) for _ in range(2)]
    for s in survivors:
        s.subscribe(f"$share/g/{r}", qos=1)
    victim = raw.connected(broker.port, unique("victim"))
    victim.do_subscribe([(f"$share/g/{r}", 1)], expect_codes=[1])
    try:
        n = 600
        publish_all(broker.port, r, [str(i).encode() for i in range(n)])
        # The victim acknowledges the first half of what it got, then dies without DISCONNECT.
        received = victim.collect_publishes(10, timeout=10, ack=False)
        acked = set()
        for p in received[:5]:
            victim.send(raw.puback(p.mid))
            acked.add(int(p.payload))
        time.sleep(0.5)
        victim.abort()
        got = [int(m.payload) for s in survivors for m in drain(s, settle=2.0)]
        duplicates = [p for p, c in collections.Counter(got).items() if c > 1]
        assert duplicates == []
        assert acked.isdisjoint(got), "a message the victim acknowledged went to another member"
        assert sorted(acked | set(got)) == list(range(n))
    finally:
        for s in survivors:
            s.stop()


@pytest.mark.ours_only
def test_hash_client_id_keeps_a_publisher_on_one_member(broker_factory):
    broker = broker_factory(ours_extra={"shared_subscriptions": {"strategy": "hash_client_id"}})
    r = unique("hash")
    members = [PahoClient(broker.port) for _ in range(4)]
    for m in members:
        m.subscribe(f"$share/g/{r}", qos=1)
    try:
        publishers = [unique(f"device{i}") for i in range(8)]
        for name in publishers:
            publish_all(broker.port, r, [f"{name}|{i}".encode() for i in range(20)], client_id=name)
        owners = collections.defaultdict(set)
        total = 0
        for index, m in enumerate(members):
            for msg in drain(m):
                owners[msg.payload.decode().split("|")[0]].add(index)
                total += 1
        assert total == 8 * 20
        assert {name: len(owners[name]) for name in publishers} == {name: 1 for name in publishers}
    finally:
        for m in members:
            m.stop()


@pytest.mark.ours_only
def test_queue_prefix_is_one_group(broker):
    r = unique("queue")
    a, b = PahoClient(broker.port), PahoClient(broker.port)
    assert a.subscribe(f"$queue/{r}", qos=1) == [1]
    assert b.subscribe(f"$share/$queue/{r}", qos=1) == [1]
    try:
        publish_all(broker.port, r, [str(i).encode() for i in range(100)])
        assert len(drain(a)) + len(drain(b)) == 100
    finally:
        a.stop()
        b.stop()


@pytest.mark.ours_only
def test_malformed_share_names_get_suback_0x80_and_the_connection_stays(broker):
    c = raw.connected(broker.port, unique("bad"))
    bad = ["$share//a", "$share/g", "$share/g/", "$share/+/a", "$share/#", "$queue/"]
    c.do_subscribe([(f, 1) for f in bad] + [("$share/ok/a", 1)], expect_codes=[0x80] * len(bad) + [1])
    c.send(raw.pingreq())
    c.expect(raw.PINGRESP)
    c.do_disconnect()


@pytest.mark.ours_only  # mosquitto 2.0.11 sends the retained message (as for an ordinary subscribe)
def test_a_shared_subscribe_gets_no_retained_message(broker):
    """MQTT 5 §4.8.2: retained messages are not sent on a shared subscribe (EMQX does the same)."""
    r = unique("ret")
    pub = raw.connected(broker.port, unique("rpub"))
    pub.do_publish(f"{r}/state", b"on", qos=1, retain=True)
    c = raw.connected(broker.port, unique("rsub"))
    c.do_subscribe([(f"$share/g/{r}/#", 1)], expect_codes=[1])
    c.expect_nothing(1.0)
    pub.do_publish(f"{r}/state", b"live", qos=1)
    p = c.expect(raw.PUBLISH)
    assert (p.payload, p.retain) == (b"live", False)
    pub.do_publish(f"{r}/state", b"", qos=1, retain=True)
    c.do_disconnect()
    pub.do_disconnect()


@pytest.mark.ours_only
def test_acl_judges_the_inner_filter(broker_factory):
    broker = broker_factory(ours_extra={
        "allow_anonymous": False,
        "auth": {"internal_users": [{"username": "svc", "password": bcrypt_hash("pw"), "roles": ["svc"]}]},
        "acl": [{"name": "svc", "authorize_publish": ["devices/#"], "authorize_subscribe": ["devices/#"]}],
    })
    c = raw.connected(broker.port, unique("svc"), username="svc", password="pw")
    c.do_subscribe([("$share/g/devices/#", 1), ("$share/g/admin/#", 1), ("$queue/devices/+/x", 1)],
                   expect_codes=[1, 0x80, 1])
    c.do_disconnect()


@pytest.mark.ours_only
def test_sys_reports_groups_and_members(broker_factory):
    broker = broker_factory(sys_interval=1)
    r = unique("sys")
    clients = [raw.connected(broker.port, unique("m")) for _ in range(3)]
    clients[0].do_subscribe([(f"$share/a/{r}", 0), (f"$share/b/{r}", 0)], expect_codes=[0, 0])
    clients[1].do_subscribe([(f"$share/a/{r}", 0)], expect_codes=[0])
    clients[2].do_subscribe([(f"$share/a/{r}/#", 0)], expect_codes=[0])
    deadline = time.monotonic() + 8
    values = {}
    while time.monotonic() < deadline and values != {"groups": b"3", "members": b"4"}:
        watcher = raw.connected(broker.port, unique("w"))
        watcher.do_subscribe([("$SYS/broker/shared_subscriptions/+", 0)])
        for _ in range(2):
            p = watcher.expect(raw.PUBLISH, timeout=3)
            values[p.topic.rsplit("/", 1)[1]] = p.payload
        watcher.do_disconnect()
        time.sleep(0.5)
    assert values == {"groups": b"3", "members": b"4"}
    for c in clients:
        c.do_disconnect()
