"""Kafka bridge (issue 6) against librdkafka's mock cluster (a real Kafka-protocol server,
started by the `kafka-mock` helper built with the broker), checked with kcat."""
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

import mqtt_raw as raw
from conftest import BROKER_BIN, Broker, free_port
from helpers import MosquittoSub, mosquitto_pub, unique, wait_subscribed

pytestmark = pytest.mark.ours_only

KAFKA_MOCK = os.environ.get("KAFKA_MOCK_BIN", str(pathlib.Path(BROKER_BIN).parent / "kafka-mock"))
KCAT = shutil.which("kcat") or "/usr/bin/kcat"


class KafkaMock:
    def __init__(self):
        if not os.access(KAFKA_MOCK, os.X_OK):
            pytest.fail(f"{KAFKA_MOCK} missing: swift build --product kafka-mock", pytrace=False)
        self.proc = subprocess.Popen([KAFKA_MOCK], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.address = self.proc.stdout.readline().strip()
        assert self.address.startswith("127.0.0.1:"), self.address

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def records(self, topic: str, count: int, timeout: float = 15.0) -> list[tuple[str, dict, str]]:
        """At least `count` records of `topic` as (key, headers, value), read with kcat."""
        deadline = time.monotonic() + timeout
        out: list = []
        while time.monotonic() < deadline:
            r = subprocess.run([KCAT, "-C", "-b", self.address, "-t", topic, "-o", "beginning", "-e", "-q",
                                "-f", "%k\t%h\t%s\n"], capture_output=True, text=True, timeout=30)
            out = []
            for line in r.stdout.splitlines():
                key, headers, value = line.split("\t", 2)
                parsed = {}
                if headers:
                    for h in headers.split(","):
                        name, _, val = h.partition("=")
                        parsed[name] = val
                out.append((key, parsed, value))
            if len(out) >= count:
                return out
            time.sleep(0.3)
        raise AssertionError(f"expected {count} records on {topic}, got {out}")

    def produce(self, topic: str, key: str, value: str, headers: dict | None = None) -> None:
        argv = [KCAT, "-P", "-b", self.address, "-t", topic, "-K", "\t"]
        for name, val in (headers or {}).items():
            argv += ["-H", f"{name}={val}"]
        subprocess.run(argv, input=f"{key}\t{value}\n", text=True, check=True, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def kafka():
    mock = KafkaMock()
    yield mock
    mock.stop()


def kafka_config(kafka: KafkaMock, **extra) -> dict:
    cfg = {"brokers": kafka.address, "client_id": "itest"}
    cfg.update(extra)
    return cfg


def test_client_events_with_wildcards_keys_and_headers(kafka, broker_factory):
    kafka.command("topic telemetry 1")
    kafka.command("topic bytopic 1")
    b = broker_factory(ours_extra={"kafka": kafka_config(kafka, publish={"client_events": [
        {"mqtt_topic": "devices/+/telemetry", "topic": "telemetry"},
        {"mqtt_topic": "status/#", "topic": "bytopic", "key": "topic"},
    ]})})
    c = raw.connected(b.port, "dev-1")
    c.send(raw.publish("devices/dev-1/telemetry", b'{"t":21}', qos=1, mid=1))
    c.expect_ack(raw.PUBACK, 1, timeout=10)
    c.send(raw.publish("status/a/b", b"up", qos=0))
    c.send(raw.publish("other/x", b"ignored", qos=1, mid=2))
    c.expect_ack(raw.PUBACK, 2)
    records = kafka.records("telemetry", 1)
    assert len(records) == 1
    key, headers, value = records[0]
    assert (key, value) == ("dev-1", '{"t":21}')
    assert headers == {"mqtt_topic": "devices/dev-1/telemetry", "client_id": "dev-1", "qos": "1"}
    key, headers, value = kafka.records("bytopic", 1)[0]
    assert (key, value, headers["qos"]) == ("status/a/b", "up", "0")
    c.close()


def test_also_mqtt_false_keeps_the_message_off_mqtt(kafka, broker_factory):
    kafka.command("topic only 1")
    b = broker_factory(ours_extra={"kafka": kafka_config(kafka, publish={"client_events": [
        {"mqtt_topic": "kafka-only/#", "topic": "only", "also_mqtt": False, "key": "none"},
    ]})})
    sub = raw.connected(b.port, unique("s"))
    sub.send(raw.subscribe(1, [("#", 0)]))
    sub.expect(raw.SUBACK)
    c = raw.connected(b.port, "p")
    c.send(raw.publish("kafka-only/x", b"secret", qos=1, mid=3))
    c.expect_ack(raw.PUBACK, 3, timeout=10)
    c.send(raw.publish("visible", b"v", qos=0))
    p = sub.expect(raw.PUBLISH)
    assert p.topic == "visible"
    assert kafka.records("only", 1)[0][2] == "secret"


def test_connect_and_disconnect_cloudevents(kafka, broker_factory):
    kafka.command("topic connects 1")
    kafka.command("topic disconnects 1")
    b = broker_factory(ours_extra={"kafka": kafka_config(kafka, publish={
        "connect_event": {"topic": "connects"},
        "disconnect_event": {"topic": "disconnects", "type": "custom.gone"},
        "events_for": "all",
    })})
    c = raw.connected(b.port, "dev-ce")
    peer = "127.0.0.1:%d" % c.sock.getsockname()[1]
    c.send(raw.disconnect())
    c.close()
    key, headers, value = kafka.records("connects", 1)[0]
    event = json.loads(value)
    assert key == "dev-ce"
    assert event["specversion"] == "1.0"
    assert event["type"] == "andrew.device.connect"
    assert event["subject"] == "dev-ce"
    assert event["datacontenttype"] == "application/json"
    assert event["data"]["device"] == "dev-ce"
    assert event["data"]["peer"] == peer
    assert event["id"] and event["source"] and event["time"]
    key, headers, value = kafka.records("disconnects", 1)[0]
    event = json.loads(value)
    assert (key, event["type"], event["data"]["device"], event["data"]["peer"]) == ("dev-ce", "custom.gone", "dev-ce", peer)


def test_events_only_for_token_clients_by_default(kafka, broker_factory):
    kafka.command("topic connects2 1")
    kafka.command("topic telemetry2 1")
    b = broker_factory(ours_extra={"kafka": kafka_config(kafka, publish={
        "connect_event": {"topic": "connects2"},
        "client_events": [{"mqtt_topic": "t", "topic": "telemetry2"}],
    })})
    c = raw.connected(b.port, "anon")
    c.send(raw.publish("t", b"x", qos=1, mid=1))
    c.expect_ack(raw.PUBACK, 1, timeout=10)
    # The telemetry record is there, so the (absent) connect event would have been too.
    kafka.records("telemetry2", 1)
    assert subprocess.run([KCAT, "-C", "-b", kafka.address, "-t", "connects2", "-o", "beginning", "-e", "-q"],
                          capture_output=True, text=True, timeout=30).stdout == ""


def test_puback_held_while_kafka_fails_then_sent_after_recovery(kafka, broker_factory):
    kafka.command("topic held 1")
    b = broker_factory(ours_extra={"kafka": kafka_config(kafka, publish={"client_events": [
        {"mqtt_topic": "held/#", "topic": "held"},
    ]})})
    c = raw.connected(b.port, "dev-held")
    # Warm up: the producer has its connection and producer id.
    c.send(raw.publish("held/0", b"0", qos=1, mid=1))
    c.expect_ack(raw.PUBACK, 1, timeout=10)
    kafka.command("fail 40")  # about 4 s of refused produce requests (100 ms retry back-off)
    c.send(raw.publish("held/1", b"1", qos=1, mid=2))
    c.send(raw.publish("unmapped", b"2", qos=1, mid=3))
    c.expect_nothing(timeout=1.5)
    started = time.monotonic()
    c.expect_ack(raw.PUBACK, 2, timeout=20)
    c.expect_ack(raw.PUBACK, 3, timeout=1)  # released behind the held one, in order
    assert time.monotonic() - started > 0.5
    values = [r[2] for r in kafka.records("held", 2)]
    assert "1" in values


def test_kafka_down_at_start(kafka, broker_factory):
    kafka.command("topic late 1")
    kafka.command("down")
    b = broker_factory(ours_extra={"kafka": kafka_config(kafka, publish={"client_events": [
        {"mqtt_topic": "late", "topic": "late"},
    ]})})
    c = raw.connected(b.port, "dev-late")
    c.send(raw.publish("late", b"waited", qos=1, mid=7))
    c.expect_nothing(timeout=2)
    wait_for_log(b, "kafka: ")  # librdkafka's connection errors are logged
    kafka.command("up")
    c.expect_ack(raw.PUBACK, 7, timeout=30)
    assert kafka.records("late", 1)[0][2] == "waited"
    assert b.running()


def test_legacy_layout_with_kafka_brokers_environment(kafka, tmp_path, monkeypatch):
    kafka.command("topic legacy 1")
    port = free_port()
    path = tmp_path / "legacy.yaml"
    path.write_text(json.dumps({"config": {"kafka": {"publish": {"client_events": [
        {"mqtt_topic": "legacy/#", "topic": "legacy"}]}}}}) + "\n")
    monkeypatch.setenv("KAFKA_BROKERS", kafka.address)
    b = Broker("ours", port, [BROKER_BIN, "--port", str(port), "--shards", "2", "--config", str(path)],
               tmp_path, "legacy")
    try:
        b.start()
        mosquitto_pub(port, "legacy/x", "old", qos=1)
        key, headers, value = kafka.records("legacy", 1)[0]
        assert (value, headers["mqtt_topic"]) == ("old", "legacy/x")
    finally:
        b.stop()


def wait_for_log(b: Broker, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in b.stderr_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not logged within {timeout}s:\n{b.stderr_tail()}")


def test_kafka_records_reach_mqtt_through_a_template(kafka, broker_factory):
    kafka.command("topic commands 2")
    b = broker_factory(ours_extra={"log": {"level": "info"}, "kafka": kafka_config(kafka, subscribe=[
        {"topic": "commands", "group_id": "g1", "mqtt_topic": "devices/{key}/commands/{header.kind}", "qos": 1},
    ])})
    sub = raw.connected(b.port, unique("s"))
    sub.send(raw.subscribe(1, [("devices/+/commands/#", 1)]))
    sub.expect(raw.SUBACK)
    wait_for_log(b, "kafka subscription assigned")
    kafka.produce("commands", "dev-9", "reboot now", headers={"kind": "reboot"})
    p = sub.expect(raw.PUBLISH, timeout=15)
    assert (p.topic, p.payload, p.qos) == ("devices/dev-9/commands/reboot", b"reboot now", 1)
    # A record whose template has no value (no header) is skipped, the next one still arrives.
    kafka.produce("commands", "dev-9", "no kind")
    kafka.produce("commands", "dev-8", "second", headers={"kind": "ping"})
    p = sub.expect(raw.PUBLISH, timeout=15)
    assert (p.topic, p.payload) == ("devices/dev-8/commands/ping", b"second")


def test_kafka_record_reaches_mosquitto_sub_as_retained(kafka, broker_factory):
    kafka.command("topic broadcast 1")
    b = broker_factory(ours_extra={"log": {"level": "info"}, "kafka": kafka_config(kafka, subscribe=[
        {"topic": "broadcast", "mqtt_topic": "broadcast/{key}", "retain": True},
    ])})
    wait_for_log(b, "kafka subscription assigned")
    kafka.produce("broadcast", "all", "hello devices")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(b.port), "-t", "broadcast/#", "-C", "1",
                            "-W", "2", "-v"], capture_output=True, text=True)
        if r.stdout.strip():
            break
    assert r.stdout.strip() == "broadcast/all hello devices"



def test_a_kafka_record_deeper_than_max_topic_levels_is_dropped(kafka, broker_factory):
    """The topic a template makes from a record's key is held to `max_topic_levels` like a
    PUBLISH topic: a deeper one is dropped (and logged), the records after it still arrive."""
    kafka.command("topic deep 1")
    b = broker_factory(max_topic_levels=4, ours_extra={"log": {"level": "info"}, "kafka": kafka_config(kafka, subscribe=[
        {"topic": "deep", "mqtt_topic": "devices/{key}/up"},
    ])})
    sub = raw.connected(b.port, unique("s"))
    sub.send(raw.subscribe(1, [("devices/#", 0)]))
    sub.expect(raw.SUBACK)
    wait_for_log(b, "kafka subscription assigned")
    kafka.produce("deep", "a/b/c", "too deep")
    kafka.produce("deep", "dev-1/x", "fits")
    p = sub.expect(raw.PUBLISH, timeout=15)
    assert (p.topic, p.payload) == ("devices/dev-1/x/up", b"fits")
    wait_for_log(b, "message from outside MQTT dropped")
    sub.expect_nothing(1.0)


def test_mqtt5_user_properties_and_content_type_travel_as_headers_and_back(kafka, broker_factory):
    import mqtt5_raw as m5
    kafka.command("topic v5up 1")
    kafka.command("topic v5down 1")
    b = broker_factory(ours_extra={"log": {"level": "info"}, "kafka": kafka_config(
        kafka, publish={"client_events": [{"mqtt_topic": "v5/up/#", "topic": "v5up"}]},
        subscribe=[{"topic": "v5down", "group_id": "g5", "mqtt_topic": "v5/down/{key}", "qos": 1}])})
    sub = m5.connected5(b.port, unique("s5"))
    sub.do_subscribe5([("v5/down/#", 1)])
    wait_for_log(b, "kafka subscription assigned")
    c = m5.connected5(b.port, "dev-5")
    c.do_publish5("v5/up/t", b"21", qos=1, mid=1, expect_reason=0x00, properties=[
        (m5.CONTENT_TYPE, "application/json"), (m5.USER_PROPERTY, ("unit", "C")),
        (m5.USER_PROPERTY, ("trace", "7"))])
    key, headers, value = kafka.records("v5up", 1)[0]
    assert value == "21"
    assert list(headers.items())[3:] == [("content-type", "application/json"), ("unit", "C"), ("trace", "7")]
    # Back: every header but the bridge's own is a user property, content-type the Content Type.
    kafka.produce("v5down", "dev-5", "set 22", headers={"content-type": "text/plain", "trace": "8", "unit": "F"})
    p = sub.next_publish(timeout=15)
    assert (p.topic, p.payload) == ("v5/down/dev-5", b"set 22")
    assert p.props.get(m5.CONTENT_TYPE) == "text/plain"
    assert p.props.user == [("trace", "8"), ("unit", "F")]
