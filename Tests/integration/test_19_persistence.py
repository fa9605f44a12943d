"""MongoDB persistence (issue 13) against secantusdb, a MongoDB wire-protocol server from PyPI
started by the suite on a free port with its data in a folder, so that it can be stopped and
started again with its data. Checked with pymongo where the stored documents matter."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pymongo
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import BROKER_BIN, Broker, free_port
from helpers import PahoClient, mosquitto_pub, unique
from mongo_helpers import MongoServer, Publisher, collect, mongo, read_sys  # noqa: F401 (mongo: a fixture)

pytestmark = pytest.mark.ours_only


class Restartable:
    """Our broker with a config file, started again on the same port after a kill -9."""

    def __init__(self, tmp_path: pathlib.Path, config: str | None, env: dict | None = None):
        self.port = free_port()
        self.tmp_path = tmp_path
        self.config = tmp_path / "persist.yaml"
        if config is not None:
            self.config.write_text(config.replace("PORT", str(self.port)))
        self.env = env
        self.runs: list[Broker] = []

    def start(self) -> Broker:
        argv = [BROKER_BIN, "--shards", "2"]
        argv += ["--config", str(self.config)] if self.config.exists() else ["--port", str(self.port)]
        broker = Broker("ours", self.port, argv, self.tmp_path, f"persist{len(self.runs)}")
        saved = dict(os.environ)
        os.environ.update(self.env or {})
        try:
            broker.start(ready_timeout=30)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.runs.append(broker)
        return broker

    def kill9(self) -> None:
        broker = self.runs[-1]
        broker.proc.kill()
        broker.proc.wait(5)
        broker.stopped = True

    def stop(self) -> None:
        for broker in self.runs:
            if broker.running():
                broker.stop()

    def log(self) -> str:
        return "\n".join(b.stderr_tail(60) for b in self.runs)


def config_for(mongo: MongoServer, database: str, extra: str = "") -> str:
    return f"""
listeners:
  - {{protocol: mqtt, host: 127.0.0.1, port: PORT}}
sys_interval_seconds: 1
limits:
  max_queued_messages: 1000000   # the offline queue must not be what drops messages here
persistence:
  type: mongodb
  url: "{mongo.url()}"
  database: {database}
{extra}"""


def leave_persistent_subscription(port: int, client_id: str, topic_filter: str, qos: int) -> None:
    """A persistent session (clean session 0) subscribed to `topic_filter`, left offline."""
    client = PahoClient(port, client_id=client_id, clean_session=False)
    client.subscribe(topic_filter, qos=qos)
    client.disconnect()


def test_kill9_loses_no_acknowledged_message(mongo, tmp_path):
    node = Restartable(tmp_path, config_for(mongo, "kill9"))
    broker = node.start()
    try:
        leave_persistent_subscription(broker.port, "offline-dev", "load/#", qos=2)
        mosquitto_pub(broker.port, "state/door", "open", qos=1, retain=True)

        publishers = [Publisher(broker.port, "load/q1", 1, "one"), Publisher(broker.port, "load/q2", 2, "two")]
        for p in publishers:
            p.start()
        time.sleep(2.0)
        node.kill9()
        for p in publishers:
            p.stop()
        acknowledged = {p.tag: set(p.acknowledged) for p in publishers}
        assert len(acknowledged["one"]) > 50 and len(acknowledged["two"]) > 20, acknowledged

        broker = node.start()
        back = PahoClient(broker.port, client_id="offline-dev", clean_session=False)
        assert back.session_present == 1
        received = collect(back)
        missing = {tag: sorted(acks - set(received)) for tag, acks in acknowledged.items()}
        assert missing == {"one": [], "two": []}, \
            f"acknowledged but lost: {[(tag, len(m), m[:5]) for tag, m in missing.items()]}"
        twice = sorted({m for m in received if m.startswith("two-") and received.count(m) > 1})
        assert twice == [], f"QoS 2 messages delivered twice: {twice[:10]}"
        # Per publisher, in the order they were published.
        for tag in ("one", "two"):
            numbers = [int(m.split("-")[1]) for m in received if m.startswith(tag + "-")]
            assert numbers == sorted(numbers), f"{tag} out of order"

        # The subscription and the retained message survived too.
        mosquitto_pub(broker.port, "load/after", "after-restart", qos=1)
        assert back.get(timeout=5).payload == b"after-restart"
        fresh = PahoClient(broker.port)
        fresh.subscribe("state/#", qos=1)
        retained = fresh.get(timeout=5)
        assert (retained.topic, retained.payload, retained.retain) == ("state/door", b"open", True)
        back.stop()
        fresh.stop()
    finally:
        node.stop()


def test_old_layout_mongo_url_keeps_sessions_in_the_urls_database(mongo, tmp_path):
    """The aedes deployment sets only MONGO_URL (no config file); its path names the database."""
    port_holder = Restartable(tmp_path, None, env={"MONGO_URL": mongo.url("legacy_db")})
    broker = port_holder.start()
    try:
        leave_persistent_subscription(broker.port, "legacy-dev", "legacy/#", qos=1)
        mosquitto_pub(broker.port, "legacy/x", "kept", qos=1)
        broker.stop()
        sessions = list(mongo.db("legacy_db").broker_sessions.find({"_id": "legacy-dev"}))
        assert [s["subscriptions"] for s in sessions] == [[{"filter": "legacy/#", "qos": 1}]]
        assert mongo.db("legacy_db").broker_queue.count_documents({"client": "legacy-dev"}) == 1

        broker = port_holder.start()
        back = PahoClient(broker.port, client_id="legacy-dev", clean_session=False)
        assert back.session_present == 1
        assert back.get(timeout=5).payload == b"kept"
        back.stop()
    finally:
        port_holder.stop()


def test_mongodb_outage_slows_publishers_and_loses_nothing(mongo, tmp_path):
    node = Restartable(tmp_path, config_for(mongo, "outage"))
    broker = node.start()
    try:
        leave_persistent_subscription(broker.port, "outage-dev", "out/#", qos=1)
        publisher = Publisher(broker.port, "out/q", 1, "out")
        publisher.start()
        time.sleep(1.0)
        mongo.stop()
        time.sleep(1.0)
        during = len(publisher.acknowledged)
        time.sleep(3.0)
        # Nothing is acknowledged while MongoDB is down (a batch already written may still land).
        assert len(publisher.acknowledged) - during <= 40
        assert read_sys(broker.port, "$SYS/broker/store/available") == "0"
        assert broker.running()
        mongo.start()
        deadline = time.monotonic() + 20
        while len(publisher.acknowledged) < during + 100 and time.monotonic() < deadline:
            time.sleep(0.2)
        publisher.stop()
        assert len(publisher.acknowledged) >= during + 100, "publishing did not resume"
        deadline = time.monotonic() + 5
        while read_sys(broker.port, "$SYS/broker/store/available") != "1" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert read_sys(broker.port, "$SYS/broker/store/available") == "1"
        acknowledged = set(publisher.acknowledged)

        node.kill9()
        broker = node.start()
        back = PahoClient(broker.port, client_id="outage-dev", clean_session=False)
        received = set(collect(back))
        lost = sorted(acknowledged - received)
        assert lost == [], f"{len(lost)} acknowledged but lost, e.g. {lost[:5]}"
        back.stop()
        log = node.log()
        assert "MongoDB unavailable" in log and "MongoDB reachable again" in log
    finally:
        node.stop()


def test_broker_starts_without_mongodb_and_loads_it_later(mongo, tmp_path):
    """MongoDB down at start-up: the broker serves clean sessions at once, refuses persistent
    ones with CONNACK 3 (their sessions are not read yet) and says so in $SYS; once MongoDB
    answers it loads what it kept and the persistent client finds its session."""
    node = Restartable(tmp_path, config_for(mongo, "late"))
    broker = node.start()
    sub = PahoClient(broker.port, client_id="late-dev", clean_session=False)
    sub.subscribe("late/#", qos=1)
    sub.disconnect()
    mosquitto_pub(broker.port, "late/x", "kept while down", qos=1)
    broker.stop()
    mongo.stop()
    try:
        broker = node.start()
        assert "MongoDB unavailable at start-up" in broker.stderr_tail()
        mosquitto_pub(broker.port, "clean/x", "served", qos=1)
        assert read_sys(broker.port, "$SYS/broker/store/loaded") == "0"
        refused = PahoClient(broker.port, client_id="late-dev", clean_session=False, connect=False)
        refused.client.connect("127.0.0.1", broker.port)
        refused.client.loop_start()
        assert refused.connack.wait(5)
        assert refused.connect_rc == 136  # CONNACK 3 (server unavailable), as paho 2 reports it
        refused.stop()

        mongo.start()
        deadline = time.monotonic() + 30
        while read_sys(broker.port, "$SYS/broker/store/loaded") != "1" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert read_sys(broker.port, "$SYS/broker/store/loaded") == "1"
        back = PahoClient(broker.port, client_id="late-dev", clean_session=False)
        assert back.session_present == 1
        assert back.get(timeout=5).payload == b"kept while down"
        back.stop()
    finally:
        node.stop()


def test_aedes_data_is_imported_once(mongo, tmp_path):
    """A database the aedes broker (aedes-persistence-mongodb) wrote: its retained messages and
    persistent subscriptions are there after the first start, and imported only that once."""
    from bson.binary import Binary
    db = mongo.db("aedes_db")
    db.retained.insert_many([
        {"cmd": "publish", "topic": "devices/7/state", "payload": Binary(b"on"), "qos": 1, "retain": True},
        {"cmd": "publish", "topic": "devices/8/state", "payload": Binary(b"off"), "qos": 0, "retain": True},
    ])
    db.subscriptions.insert_many([
        {"clientId": "backend-1", "topic": "devices/+/events", "qos": 1},
        {"clientId": "backend-1", "topic": "alerts/#", "qos": 2},
    ])
    node = Restartable(tmp_path, None, env={"MONGO_URL": mongo.url("aedes_db")})
    broker = node.start()
    try:
        assert "imported the aedes broker's data" in broker.stderr_tail()
        viewer = PahoClient(broker.port)
        viewer.subscribe("devices/+/state", qos=1)
        got = sorted((m.topic, m.payload) for m in viewer.get_n(2))
        assert got == [("devices/7/state", b"on"), ("devices/8/state", b"off")]
        viewer.stop()
        mosquitto_pub(broker.port, "devices/7/events", "while offline", qos=1)
        backend = PahoClient(broker.port, client_id="backend-1", clean_session=False)
        assert backend.session_present == 1
        assert backend.get(timeout=5).payload == b"while offline"
        backend.stop()

        # The aedes collections change afterwards; the broker does not import them again.
        db.retained.update_one({"topic": "devices/7/state"}, {"$set": {"payload": Binary(b"stale")}})
        broker.stop()
        broker = node.start()
        assert "imported the aedes broker's data" not in broker.stderr_tail()
        viewer = PahoClient(broker.port)
        viewer.subscribe("devices/7/state", qos=1)
        assert viewer.get(timeout=5).payload == b"on"
        viewer.stop()
    finally:
        node.stop()


def test_relaxed_durability_loses_at_most_the_flush_interval(mongo, tmp_path):
    """Write-behind: PUBACK at once, writes every flush_interval_ms. After a kill -9 only what
    was acknowledged within the last interval (plus one batch's write time) may be missing."""
    interval = 0.5
    relaxed = "  durability: relaxed\n  flush_interval_ms: 500\n"
    node = Restartable(tmp_path, config_for(mongo, "relaxed", extra=relaxed))
    broker = node.start()
    try:
        leave_persistent_subscription(broker.port, "relaxed-dev", "rel/#", qos=1)
        publisher = Publisher(broker.port, "rel/q", 1, "rel")
        publisher.start()
        time.sleep(3.0)
        node.kill9()
        killed_at = time.monotonic()
        publisher.stop()
        acked_at = dict(publisher.acked_at)

        broker = node.start()
        back = PahoClient(broker.port, client_id="relaxed-dev", clean_session=False)
        received = set(collect(back))
        lost = {m: killed_at - t for m, t in acked_at.items() if m not in received}
        oldest = max(lost.values(), default=0.0)
        print(f"relaxed, flush_interval_ms 500: {len(acked_at)} acknowledged, {len(lost)} lost, "
              f"the oldest acknowledged {oldest:.3f} s before the kill")
        assert oldest <= interval + 1.0, f"lost a message acknowledged {oldest:.2f} s before the kill"
        assert len(received) > 0
        back.stop()
    finally:
        node.stop()


def test_wrong_credentials_are_reported_and_nothing_crashes(mongo, tmp_path):
    """SCRAM credentials come from the URL. Wrong ones: the broker says why in its log, serves
    clean sessions, refuses persistent ones; the right ones: it loads and keeps sessions."""
    mongo.db("admin").command("createUser", "broker", pwd="right-secret", roles=["root"])
    mongo.stop()
    mongo.start(auth=True)
    (tmp_path / "wrong").mkdir()
    config = config_for(mongo, "creds")
    wrong = Restartable(tmp_path / "wrong", config.replace(mongo.url(), mongo.url(credentials="broker:wrong-secret")))
    broker = wrong.start()
    try:
        time.sleep(1)
        log = broker.stderr_tail()
        assert "MongoDB unavailable" in log and "uthentication failed" in log, log
        mosquitto_pub(broker.port, "clean/x", "served", qos=1)
        assert read_sys(broker.port, "$SYS/broker/store/loaded") == "0"
        assert broker.running()
    finally:
        wrong.stop()

    (tmp_path / "right").mkdir()
    right = Restartable(tmp_path / "right", config.replace(mongo.url(), mongo.url(credentials="broker:right-secret")))
    broker = right.start()
    try:
        assert "MongoDB store loaded" in broker.stderr_tail()
        sub = PahoClient(broker.port, client_id="creds-dev", clean_session=False)
        sub.subscribe("creds/#", qos=1)
        sub.stop()
        stored = pymongo.MongoClient(mongo.url(credentials="broker:right-secret")).creds.broker_sessions
        assert stored.count_documents({"_id": "creds-dev"}) == 1
    finally:
        right.stop()


def test_wills_of_connected_clients_are_published_after_a_kill9(mongo, tmp_path):
    """A broker that dies owes the wills of its connected clients, with a clean session or a
    persistent one: published at the next start, once. A client that sent DISCONNECT is owed
    nothing."""
    node = Restartable(tmp_path, config_for(mongo, "wills"))
    broker = node.start()
    try:
        dying = PahoClient(broker.port, client_id="dying", will=("status/dying", "offline", 1, True))
        device = PahoClient(broker.port, client_id="device", clean_session=False,
                            will=("status/device", "offline", 1, True))
        polite = PahoClient(broker.port, client_id="polite", will=("status/polite", "offline", 1, True))
        polite.stop()
        time.sleep(0.5)
        node.kill9()
        dying.stop()
        device.stop()

        broker = node.start()
        assert "publishing the will" in broker.stderr_tail()
        watcher = PahoClient(broker.port)
        watcher.subscribe("status/#", qos=1)
        got = sorted((m.topic, m.payload, m.retain) for m in watcher.get_n(2, timeout=5))
        assert got == [("status/device", b"offline", True), ("status/dying", b"offline", True)]
        watcher.expect_none(1.0)
        watcher.stop()
        broker.stop()
        broker = node.start()
        assert "publishing the will" not in broker.stderr_tail()
    finally:
        node.stop()


def test_a_write_mongodb_refuses_for_good_is_not_acknowledged(mongo, tmp_path):
    """A message whose queue entry is over MongoDB's 16 MiB document limit: its PUBACK never
    comes, the refusal is logged with the client id and counted, and the publisher's next
    message is acknowledged as usual."""
    config = config_for(mongo, "big").replace(
        "max_queued_messages: 1000000", "max_queued_messages: 1000000\n  max_packet_size: 20000000")
    node = Restartable(tmp_path, config)
    broker = node.start()
    try:
        leave_persistent_subscription(broker.port, "big-dev", "big/#", qos=1)
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="big-pub", protocol=mqtt.MQTTv311)
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        too_big = publisher.publish("big/x", b"x" * 17_000_000, qos=1)
        fine = publisher.publish("big/y", b"small", qos=1)
        fine.wait_for_publish(10)
        assert fine.is_published() and not too_big.is_published()
        publisher.disconnect()
        deadline = time.monotonic() + 5
        while read_sys(broker.port, "$SYS/broker/store/failures") != "1" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert read_sys(broker.port, "$SYS/broker/store/failures") == "1"
        log = broker.stderr_tail()
        assert "MongoDB refused a store write" in log and "client=big-dev" in log and "too large" in log
        assert broker.running()
    finally:
        node.stop()


def test_kill9_keeps_a_shared_groups_queued_messages_and_its_members(mongo, tmp_path):
    """Two persistent members of one group, both offline: the group's messages queue on them
    (stored with their group), survive a kill -9, and the group is whole again after the restart."""
    node = Restartable(tmp_path, config_for(mongo, "shared"))
    broker = node.start()
    try:
        for member in ("member-a", "member-b"):
            leave_persistent_subscription(broker.port, member, "$share/workers/jobs/#", qos=1)
        publisher = Publisher(broker.port, "jobs/1", 1, "job")
        publisher.start()
        time.sleep(1.5)
        node.kill9()
        publisher.stop()
        acknowledged = set(publisher.acknowledged)
        assert len(acknowledged) > 50, len(acknowledged)
        stored = mongo.db("shared").broker_queue
        assert stored.count_documents({"shared_group": "$share/workers/jobs/#"}) >= len(acknowledged)

        broker = node.start()
        members = [PahoClient(broker.port, client_id=m, clean_session=False) for m in ("member-a", "member-b")]
        assert [m.session_present for m in members] == [1, 1]
        received = [collect(m) for m in members]
        assert acknowledged <= set(received[0]) | set(received[1]), "acknowledged messages lost"
        assert all(received), [len(r) for r in received]
        # The group came back with its members: a new message reaches exactly one of them.
        mosquitto_pub(broker.port, "jobs/2", "after", qos=1)
        after = [collect(m, quiet=1.5) for m in members]
        assert sorted(after[0] + after[1]) == ["after"]
        for m in members:
            m.stop()
    finally:
        node.stop()


def test_mqtt5_properties_options_and_identifiers_survive_a_kill9(mongo, tmp_path):
    """An MQTT 5 persistent session keeps what MQTT 5 adds across a kill -9: the message's
    properties in its queue, its subscription options and identifiers, and a retained
    message's properties."""
    import mqtt5_raw as m5
    node = Restartable(tmp_path, config_for(mongo, "v5"))
    broker = node.start()
    try:
        sub = m5.connected5(broker.port, "v5-sub", clean_start=False, properties={m5.SESSION_EXPIRY_INTERVAL: 3600})
        sub.do_subscribe5([("v5/#", m5.sub_options(1, no_local=True))], properties={m5.SUBSCRIPTION_IDENTIFIER: 9})
        sub.do_disconnect5()
        pub = m5.connected5(broker.port, unique("v5-pub"))
        props = [(m5.CONTENT_TYPE, "text/plain"), (m5.USER_PROPERTY, ("b", "2")), (m5.USER_PROPERTY, ("a", "1"))]
        pub.do_publish5("v5/queued", b"q", qos=1, mid=1, expect_reason=0x00, properties=props)
        pub.do_publish5("v5/retained", b"r", qos=1, mid=2, retain=True, expect_reason=0x00, properties=props)
        node.kill9()

        broker = node.start()
        sub = m5.RawClient5(broker.port)
        ack = sub.do_connect5("v5-sub", clean_start=False, properties={m5.SESSION_EXPIRY_INTERVAL: 3600})
        assert ack.session_present
        got = {p.topic: p for p in (sub.next_publish(timeout=10) for _ in range(2))}
        for topic in ("v5/queued", "v5/retained"):
            assert got[topic].props.get(m5.CONTENT_TYPE) == "text/plain", got[topic]
            assert got[topic].props.user == [("b", "2"), ("a", "1")], got[topic]
            assert got[topic].props.subscription_ids == [9], got[topic]
        # No Local survived too: its own publish does not come back, another client's does.
        sub.do_publish5("v5/own", b"own", qos=1, mid=5, expect_reason=0x00)
        other = m5.connected5(broker.port, unique("v5-other"))
        other.do_publish5("v5/other", b"other", qos=1, mid=1, expect_reason=0x00)
        assert sub.next_publish(timeout=5).topic == "v5/other"
        # The retained message, as a new subscriber finds it after the restart.
        late = m5.connected5(broker.port, unique("v5-late"))
        late.do_subscribe5([("v5/retained", 1)])
        kept = late.next_publish(timeout=5)
        assert (kept.retain, kept.props.get(m5.CONTENT_TYPE), kept.props.user) == (True, "text/plain", [("b", "2"), ("a", "1")])
    finally:
        node.stop()


def test_mqtt5_session_expiry_interval_survives_a_restart(mongo, tmp_path):
    """The client's Session Expiry Interval is stored with its session: after a restart a
    2-second session still expires after 2 seconds (not after session_expiry_seconds), and a
    1-hour one is still there."""
    import mqtt5_raw as m5
    node = Restartable(tmp_path, config_for(mongo, "v5expiry"))
    broker = node.start()
    try:
        for cid, expiry in (("short-lived", 2), ("long-lived", 3600)):
            c = m5.connected5(broker.port, cid, clean_start=False, properties={m5.SESSION_EXPIRY_INTERVAL: expiry})
            c.do_subscribe5([(f"{cid}/#", 1)])
            c.do_disconnect5()
        node.kill9()
        broker = node.start()
        time.sleep(3.5)
        for cid, present in (("short-lived", False), ("long-lived", True)):
            c = m5.RawClient5(broker.port)
            assert c.do_connect5(cid, clean_start=False, properties={m5.SESSION_EXPIRY_INTERVAL: 60}).session_present == present, cid
            c.close()
    finally:
        node.stop()
