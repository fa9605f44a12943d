"""The cluster (issue 14): several broker processes linked through one secantusdb (a MongoDB
wire-protocol server), each with its own port, as behind a load balancer. Real clients only:
paho-mqtt, mosquitto_pub/sub and raw sockets where a client must not reconnect by itself."""
import pathlib
import threading
import time

import pymongo
import pytest

import mqtt_raw as raw
from conftest import BROKER_BIN, Broker, free_port
from helpers import PahoClient, mosquitto_pub, unique
from mongo_helpers import CuttableLink, Publisher, collect, mongo, read_sys  # noqa: F401 (mongo: a fixture)

pytestmark = pytest.mark.ours_only

HEARTBEAT_MS = 300
DEAD_AFTER = 3


class Cluster:
    """Broker nodes named a, b, c, … sharing one MongoDB database."""

    def __init__(self, mongo, tmp_path: pathlib.Path, database: str):
        self.mongo = mongo
        self.tmp_path = tmp_path
        self.database = database
        self.ports: dict[str, int] = {}
        self.runs: list[Broker] = []
        self.nodes: dict[str, Broker] = {}

    def start(self, *names: str, url: str | None = None) -> None:
        """Starts nodes `names`, reaching MongoDB at `url` (the server's own by default)."""
        for name in names:
            port = self.ports.setdefault(name, free_port())
            config = self.tmp_path / f"{name}.yaml"
            config.write_text(f"""
listeners:
  - {{protocol: mqtt, host: 127.0.0.1, port: {port}}}
shards: 2
sys_interval_seconds: 1
limits:
  max_queued_messages: 100000
persistence:
  type: mongodb
  url: "{url or self.mongo.url()}"
  database: {self.database}
cluster:
  node_id: {name}
  heartbeat_interval_ms: {HEARTBEAT_MS}
  dead_after_missed: {DEAD_AFTER}
""")
            broker = Broker("ours", port, [BROKER_BIN, "--config", str(config)], self.tmp_path,
                            f"{name}{len(self.runs)}")
            broker.start(ready_timeout=30)
            self.runs.append(broker)
            self.nodes[name] = broker

    def port(self, name: str) -> int:
        return self.ports[name]

    def kill9(self, name: str) -> None:
        broker = self.nodes[name]
        broker.proc.kill()
        broker.proc.wait(5)
        broker.stopped = True

    def stop(self) -> None:
        for broker in self.runs:
            if broker.running():
                broker.stop()

    def log_text(self, name: str) -> str:
        return self.nodes[name].stderr_path.read_text(errors="replace")

    def wait_logged(self, name: str, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log_text(name):
            assert time.monotonic() < deadline, f"{name} never logged {text!r}\n{self.logs()}"
            time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(f"--- {b.name}\n{b.stderr_tail(40)}" for b in self.runs)

    def alive_at_end(self) -> None:
        for broker in self.runs:
            assert broker.running() or broker.stopped, f"{broker.name} crashed:\n{broker.stderr_tail()}"


@pytest.fixture
def cluster(mongo, tmp_path):
    nodes = Cluster(mongo, tmp_path, unique("cluster").replace("-", "_"))
    yield nodes
    nodes.stop()
    nodes.alive_at_end()


def wait_routed(publish_port: int, subscriber: PahoClient, topic: str, timeout: float = 10.0) -> None:
    """Publishes probes (payload `probe`) to `topic` on one node until `subscriber` (on
    another node, subscribed to a filter matching it) receives one, then drains the probes: the
    subscription has reached the publishing node."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mosquitto_pub(publish_port, topic, "probe")
        try:
            subscriber.get(timeout=0.3)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError(f"the subscription matching {topic} never reached the node on port {publish_port}")
    drain(subscriber)


def drain(client: PahoClient) -> None:
    time.sleep(0.5)
    while not client.messages.empty():
        client.messages.get()


def payloads(messages) -> list[str]:
    return [m.payload.decode() for m in messages if m.payload != b"probe"]


def sys_value(port: int, topic: str) -> int:
    return int(read_sys(port, topic) or "-1")


def test_publishes_reach_subscribers_on_other_nodes_once_and_in_order(cluster):
    cluster.start("a", "b", "c")
    a, b, c = (cluster.port(n) for n in "abc")
    base = unique("fan")
    on_b = PahoClient(b)
    on_b.subscribe(f"{base}/#", qos=1)
    on_c = PahoClient(c)
    on_c.subscribe(f"{base}/+/x", qos=2)
    wait_routed(a, on_b, f"{base}/probe")
    wait_routed(a, on_c, f"{base}/probe/x")
    drain(on_b)  # it matched c's probes too
    publisher = PahoClient(a)
    sent = {0: [], 1: [], 2: []}
    for n in range(60):
        qos = n % 3
        payload = f"q{qos}-{n}"
        publisher.publish(f"{base}/d/x", payload, qos=qos)
        sent[qos].append(payload)
    got_b = payloads(on_b.get_n(60, timeout=20))
    got_c = payloads(on_c.get_n(60, timeout=20))
    for got in (got_b, got_c):
        assert sorted(got) == sorted(sum(sent.values(), [])), "a message lost or delivered twice"
        # Order per publisher and QoS (MQTT 3.1.1 §4.6: a QoS 0 message may overtake a QoS 1
        # one waiting for the subscriber's in-flight window).
        for qos, expected in sent.items():
            assert [p for p in got if p.startswith(f"q{qos}-")] == expected
    on_b.expect_none(1.0)
    on_c.expect_none(0.1)
    for client in (on_b, on_c, publisher):
        client.stop()


def test_mqtt5_properties_and_expiry_cross_nodes(cluster):
    """A v5 message from another node keeps its properties in order and the expiry left."""
    import mqtt5_raw as m5
    cluster.start("a", "b")
    a, b = cluster.port("a"), cluster.port("b")
    base = unique("v5x")
    probe = PahoClient(b)
    probe.subscribe(f"{base}/#", qos=1)
    on_b = m5.connected5(b, unique("v5b"))
    on_b.do_subscribe5([(f"{base}/#", 1)], properties={m5.SUBSCRIPTION_IDENTIFIER: 4})
    wait_routed(a, probe, f"{base}/probe")
    while True:  # the probes reached the v5 subscriber too
        try:
            on_b.next_publish(timeout=0.5)
        except TimeoutError:
            break
    pub = m5.connected5(a, unique("v5a"))
    props = [(m5.MESSAGE_EXPIRY_INTERVAL, 60), (m5.USER_PROPERTY, ("z", "1")), (m5.CORRELATION_DATA, b"\x00\x01"),
             (m5.USER_PROPERTY, ("a", "2"))]
    pub.do_publish5(f"{base}/t", b"v5", qos=1, mid=1, expect_reason=0x00, properties=props)
    got = on_b.next_publish(timeout=10)
    assert got.payload == b"v5"
    assert [k for k, _ in got.props.items] == [m5.MESSAGE_EXPIRY_INTERVAL, m5.USER_PROPERTY, m5.CORRELATION_DATA,
                                             m5.USER_PROPERTY, m5.SUBSCRIPTION_IDENTIFIER], got
    assert 0 < got.props.get(m5.MESSAGE_EXPIRY_INTERVAL) <= 60
    assert got.props.user == [("z", "1"), ("a", "2")]
    assert got.props.get(m5.CORRELATION_DATA) == b"\x00\x01"
    probe.stop()


def test_a_node_without_a_matching_route_reads_nothing_from_the_bus(cluster):
    cluster.start("a", "b", "c")
    a, b, c = (cluster.port(n) for n in "abc")
    base = unique("routed")
    on_b = PahoClient(b)
    on_b.subscribe(f"{base}/#", qos=1)
    wait_routed(a, on_b, f"{base}/probe")
    time.sleep(1.5)
    received_c_before = sys_value(c, "$SYS/broker/cluster/messages/received")
    received_b_before = sys_value(b, "$SYS/broker/cluster/messages/received")
    for n in range(20):
        mosquitto_pub(a, f"{base}/t", f"m{n}", qos=1)
    assert len(payloads(on_b.get_n(20))) == 20
    time.sleep(1.5)
    assert sys_value(b, "$SYS/broker/cluster/messages/received") >= received_b_before + 20
    assert sys_value(c, "$SYS/broker/cluster/messages/received") == received_c_before
    assert sys_value(a, "$SYS/broker/cluster/bus/gaps") == 0
    assert sys_value(b, "$SYS/broker/cluster/bus/gaps") == 0
    assert sys_value(a, "$SYS/broker/cluster/nodes") == 3
    on_b.stop()


def test_retained_messages_agree_on_every_node(cluster):
    cluster.start("a", "b", "c")
    a, b, c = (cluster.port(n) for n in "abc")
    topic = f"{unique('state')}/door"
    mosquitto_pub(a, topic, "open", qos=1, retain=True)

    def retained_on(port: int) -> str | None:
        client = PahoClient(port)
        client.subscribe(topic, qos=1)
        try:
            return client.get(timeout=0.5).payload.decode()
        except AssertionError:
            return None
        finally:
            client.stop()

    deadline = time.monotonic() + 10
    while retained_on(c) != "open":
        assert time.monotonic() < deadline, "retained message set on a never reached c"
    mosquitto_pub(b, topic, None, qos=1, retain=True)
    deadline = time.monotonic() + 10
    while retained_on(a) is not None or retained_on(c) is not None:
        assert time.monotonic() < deadline, "retained message cleared on b still on a or c"
    # A node started later reads it from MongoDB: set again, then a fourth node joins.
    mosquitto_pub(c, topic, "closed", qos=1, retain=True)
    time.sleep(0.5)
    cluster.start("d")
    assert retained_on(cluster.port("d")) == "closed"


def raw_connect(port: int, client_id: str, clean: bool) -> tuple[raw.RawClient, bool]:
    client = raw.RawClient(port)
    client.send(raw.connect(client_id, clean=clean, keepalive=30))
    connack = client.expect(raw.CONNACK, timeout=10)
    assert connack.rc == 0
    return client, connack.session_present


def test_a_client_id_moves_between_nodes_with_its_session(cluster):
    cluster.start("a", "b", "c")
    a, b, c = (cluster.port(n) for n in "abc")
    base = unique("move")
    device = unique("device")
    first, present = raw_connect(a, device, clean=False)
    assert not present
    first.send(raw.subscribe(1, [(f"{base}/#", 1)]))
    first.expect(raw.SUBACK)
    # The same id on b: a closes its connection, b resumes the session.
    second, present = raw_connect(b, device, clean=False)
    assert present, "b did not find the session the client had on a"
    with pytest.raises((raw.Closed, TimeoutError)):
        while True:
            first.recv(timeout=5)
    assert first.closed, "a kept the old connection open"
    # Its subscription came along: a publish on c reaches it on b.
    watcher = PahoClient(b)
    watcher.subscribe(f"{base}/#", qos=1)
    wait_routed(c, watcher, f"{base}/probe")
    mosquitto_pub(c, f"{base}/live", "to-b", qos=1)
    while True:  # the device matches the watcher's probes too
        packet = second.expect(raw.PUBLISH, timeout=10)
        if packet.qos:
            second.send(raw.puback(packet.mid))
        if packet.payload != b"probe":
            break
    assert packet.payload == b"to-b"
    second.send(raw.disconnect())
    second.close()
    time.sleep(0.5)
    # Offline on b: messages published on c are queued for it, and follow it to a.
    for n in range(5):
        mosquitto_pub(c, f"{base}/queued", f"q{n}", qos=1)
    time.sleep(1.0)
    third, present = raw_connect(a, device, clean=False)
    assert present
    got = []
    while len(got) < 5:
        packet = third.expect(raw.PUBLISH, timeout=10)
        if packet.qos:
            third.send(raw.puback(packet.mid))
        if packet.payload != b"probe":
            got.append(packet.payload.decode())
    assert got == [f"q{n}" for n in range(5)]
    third.send(raw.disconnect())
    third.close()
    watcher.stop()


def test_simultaneous_connects_with_one_id_leave_exactly_one_connected(cluster):
    cluster.start("a", "b")
    a, b = cluster.port("a"), cluster.port("b")
    for attempt in range(5):
        device = unique(f"twin{attempt}")
        clients: list[raw.RawClient] = []

        def connect(port: int) -> None:
            client = raw.RawClient(port)
            client.send(raw.connect(device, clean=True, keepalive=30))
            clients.append(client)

        threads = [threading.Thread(target=connect, args=(port,)) for port in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(3.0)
        open_ones = []
        for client in clients:
            try:
                while True:
                    packet = client.recv(timeout=0.5)
                    assert packet.type == raw.CONNACK
            except TimeoutError:
                open_ones.append(client)
            except raw.Closed:
                pass
        assert len(open_ones) == 1, f"attempt {attempt}: {len(open_ones)} connections left open"
        for client in clients:
            client.close()


def test_kill9_of_a_node_publishes_its_wills_once_and_its_sessions_resume_elsewhere(cluster):
    cluster.start("a", "b", "c")
    a, b, c = (cluster.port(n) for n in "abc")
    base = unique("dead")
    watchers = [PahoClient(a), PahoClient(c)]
    for watcher in watchers:
        watcher.subscribe(f"{base}/will/#", qos=1)
    # On b: a connected client with a will, and a persistent session subscribed to the load.
    doomed = raw.RawClient(b)
    doomed.send(raw.connect(unique("doomed"), clean=True, keepalive=60, will_topic=f"{base}/will/1",
                            will_payload=b"b died", will_qos=1))
    doomed.expect(raw.CONNACK)
    sleeper = PahoClient(b, client_id=unique("sleeper"), clean_session=False)
    sleeper.subscribe(f"{base}/load/#", qos=1)
    probe = PahoClient(b)
    probe.subscribe(f"{base}/load/#", qos=1)
    wait_routed(a, probe, f"{base}/load/probe")
    probe.stop()
    sleeper.disconnect()
    # A publisher on a keeps going through the kill; everything acknowledged must reach the
    # sleeper once it reconnects (on a: b is gone).
    publisher = Publisher(a, f"{base}/load/x", qos=1, tag="load")
    publisher.start()
    time.sleep(1.0)
    cluster.kill9("b")
    time.sleep(HEARTBEAT_MS * (DEAD_AFTER + 3) / 1000 + 1.0)
    publisher.stop()
    publisher.join(5)
    try:
        wills = [payloads(w.get_n(1, timeout=10)) for w in watchers]
        assert wills == [["b died"], ["b died"]]
        for watcher in watchers:
            watcher.expect_none(2.0)  # published once in the cluster: no second copy
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{cluster.logs()}") from None
    assert publisher.acknowledged, "nothing was acknowledged"
    back = PahoClient(a, client_id=sleeper.client_id, clean_session=False)
    assert back.session_present, f"the sleeper's session is gone\n{cluster.logs()}"
    got = set(collect(back, quiet=3.0))
    lost = publisher.acknowledged - got
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:5]}\n{cluster.logs()}"
    back.stop()
    for watcher in watchers:
        watcher.stop()
    assert sys_value(a, "$SYS/broker/cluster/nodes") == 2


def test_a_shared_group_spanning_nodes_gets_each_message_once(cluster):
    cluster.start("a", "b", "c")
    a, b, c = (cluster.port(n) for n in "abc")
    base = unique("work")
    group = f"$share/workers/{base}/#"
    members = [PahoClient(a), PahoClient(c)]
    for member in members:
        member.subscribe(group, qos=1)
    plain = PahoClient(c)
    plain.subscribe(f"{base}/#", qos=1)
    # Until b knows both members' nodes, a probe may reach only one of them.
    wait_routed(b, plain, f"{base}/probe")
    deadline = time.monotonic() + 10
    reached: set[int] = set()
    while reached != {0, 1}:
        assert time.monotonic() < deadline, f"the group's members on a and c never both got a probe: {reached}"
        mosquitto_pub(b, f"{base}/probe", "probe", qos=1)
        for index, member in enumerate(members):
            try:
                member.get(timeout=0.2)
                reached.add(index)
            except AssertionError:
                pass
    for client in members + [plain]:
        drain(client)
    publisher = PahoClient(b)
    for n in range(100):
        publisher.publish(f"{base}/job", f"job-{n}", qos=1)
    time.sleep(3.0)
    shares = []
    for member in members:
        got = []
        while not member.messages.empty():
            got.append(member.messages.get().payload.decode())
        shares.append(payloads_of(got))
    everything = shares[0] + shares[1]
    assert sorted(everything) == sorted(f"job-{n}" for n in range(100)), "a job lost or given twice"
    assert shares[0] and shares[1], f"one node's member got nothing: {len(shares[0])} / {len(shares[1])}"
    # An ordinary subscriber of the same filter still gets every message once.
    assert sorted(payloads(plain.get_n(100))) == sorted(f"job-{n}" for n in range(100))
    plain.expect_none(1.0)
    for client in members + [plain, publisher]:
        client.stop()


def payloads_of(texts: list[str]) -> list[str]:
    return [t for t in texts if t != "probe"]


def test_mongodb_restarted_under_cross_node_load(cluster, mongo):
    """The nodes ride out a MongoDB restart: acknowledgements stop while the bus cannot be
    written, nothing crashes, the link comes back, neither node takes the other for dead (both
    were alive throughout: only MongoDB was gone), and every acknowledged message arrives (or,
    if the bus lost some, the receiver counts them as gaps: never silently)."""
    cluster.start("a", "b")
    a, b = cluster.port("a"), cluster.port("b")
    base = unique("outage")
    on_b = PahoClient(b)
    on_b.subscribe(f"{base}/#", qos=1)
    wait_routed(a, on_b, f"{base}/probe")
    publisher = Publisher(a, f"{base}/load", qos=1, tag="load")
    publisher.start()
    time.sleep(1.0)
    mongo.stop()
    deadline = time.monotonic() + 15
    while sys_value(a, "$SYS/broker/cluster/available") != 0:
        assert time.monotonic() < deadline, "the outage was never reported"
        time.sleep(0.5)
    mongo.start()
    deadline = time.monotonic() + 30
    while sys_value(a, "$SYS/broker/cluster/available") != 1 or sys_value(b, "$SYS/broker/cluster/available") != 1:
        assert time.monotonic() < deadline, f"the cluster link did not come back\n{cluster.logs()}"
        time.sleep(0.5)
    acknowledged_before = len(publisher.acknowledged)
    time.sleep(2.0)
    assert len(publisher.acknowledged) > acknowledged_before, "publishing did not resume"
    publisher.stop()
    publisher.join(5)
    got = set(payloads(collect_messages(on_b)))
    lost = publisher.acknowledged - got
    gaps = sys_value(b, "$SYS/broker/cluster/bus/gaps")
    assert not lost or gaps >= len(lost), f"{len(lost)} acknowledged messages lost with {gaps} gaps counted\n{cluster.logs()}"
    for name in ("a", "b"):
        assert "taking over its sessions" not in cluster.log_text(name), f"a live node was taken for dead\n{cluster.logs()}"
    on_b.stop()
    for name in ("a", "b"):
        assert cluster.nodes[name].running()


def collect_messages(client: PahoClient, quiet: float = 3.0) -> list:
    got = []
    while True:
        try:
            got.append(client.messages.get(timeout=quiet))
        except Exception:
            return got


def test_a_node_starts_without_mongodb_and_joins_when_it_comes(cluster, mongo):
    """MongoDB down at start-up: the node serves clean-session clients at once, refuses
    persistent ones (CONNACK 3: their session may be elsewhere), reports the link down, and
    joins the cluster once MongoDB is there."""
    mongo.stop()
    port_b = cluster.ports.setdefault("b", free_port())
    cluster.start("b")
    viewer = PahoClient(port_b)
    device = raw.RawClient(port_b)
    device.send(raw.connect(unique("device"), clean=False, keepalive=30))
    assert device.expect(raw.CONNACK, timeout=10).rc == 3
    assert sys_value(port_b, "$SYS/broker/cluster/available") == 0
    mongo.start()
    deadline = time.monotonic() + 40
    while sys_value(port_b, "$SYS/broker/cluster/available") != 1:
        assert time.monotonic() < deadline, f"the node never joined\n{cluster.logs()}"
        time.sleep(0.5)
    cluster.start("a")
    base = unique("late")
    viewer.subscribe(f"{base}/#", qos=1)
    wait_routed(cluster.port("a"), viewer, f"{base}/probe")
    mosquitto_pub(cluster.port("a"), f"{base}/x", "through the cluster", qos=1)
    assert payloads(viewer.get_n(1)) == ["through the cluster"]
    viewer.stop()


def test_a_node_cut_off_from_mongodb_lets_go_of_the_sessions_taken_from_it(cluster, mongo):
    """Node b loses MongoDB while a keeps it (a partition): a takes b for dead, takes its
    persistent sessions and publishes their wills. When b reaches MongoDB again it closes its
    persistent client's connection (that session is a's now) instead of serving it beside a's
    copy, without publishing the will again; its clean client stays connected and gets what is
    published on a again; the persistent client resumes on a with what was published for it
    meanwhile."""
    link = CuttableLink(mongo.port)
    try:
        cluster.start("a")
        cluster.start("b", url=link.url())
        a, b = cluster.port("a"), cluster.port("b")
        base = unique("cut")
        device_id = unique("device")
        watcher = PahoClient(a)
        watcher.subscribe(f"{base}/will", qos=1)
        device = raw.RawClient(b)
        device.send(raw.connect(device_id, clean=False, keepalive=0, will_topic=f"{base}/will",
                                will_payload=b"device gone", will_qos=1))
        assert device.expect(raw.CONNACK).rc == 0
        device.do_subscribe([(f"{base}/cmd/#", 1)])
        viewer = PahoClient(b)
        viewer.subscribe(f"{base}/cmd/#", qos=1)
        wait_routed(a, viewer, f"{base}/cmd/probe")
        link.cut()
        cluster.wait_logged("a", "took over node b", timeout=20)
        mosquitto_pub(a, f"{base}/cmd/1", "while b was cut off", qos=1)
        link.heal()
        # The probes (QoS 0) may still be on their way to the device: skipped.
        closed = device.wait_closed(timeout=20, allow_packets=True)
        assert closed == "closed", f"b kept serving a session taken from it\n{cluster.logs()}"
        cluster.wait_logged("b", "its persistent sessions are another node's now")
        assert not viewer.disconnected.is_set(), "b closed its clean client too"
        assert payloads(watcher.get_n(1)) == ["device gone"]  # a published it when it took b over
        watcher.expect_none(2.0)  # and b did not publish it again
        wait_routed(a, viewer, f"{base}/cmd/probe")  # b's routes are back on a
        back = PahoClient(a, client_id=device_id, clean_session=False)
        assert back.session_present
        assert "while b was cut off" in payloads(collect_messages(back))
        back.stop()
        viewer.stop()
        watcher.stop()
    finally:
        link.close()
