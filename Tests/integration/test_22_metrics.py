"""The `metrics:` HTTP listener (issue 17, first part): /metrics in the Prometheus text format,
/healthz, /readyz, and what it does with bad requests, against the real binary."""
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import BROKER_BIN, Broker, free_port
from helpers import PahoClient, mosquitto_pub, unique
from mqtt_raw import connected
from mongo_helpers import mongo  # noqa: F401 (a fixture)
from test_16_kafka import kafka  # noqa: F401 (a fixture)

pytestmark = pytest.mark.ours_only

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?$')


def start(tmp_path, extra: str = "") -> tuple[Broker, int]:
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "metrics.yaml"
    config.write_text(f"""
listeners: [{{protocol: mqtt, host: 127.0.0.1, port: {port}}}]
shards: 2
metrics: {{host: 127.0.0.1, port: {metrics_port}}}
{extra}""")
    broker = Broker("ours", port, [BROKER_BIN, "--config", str(config)], tmp_path, "metrics")
    broker.start(ready_timeout=30)
    return broker, metrics_port


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[str, float]:
    """name{labels} -> value, checking the format on the way: every family has HELP and TYPE
    before its samples, every sample line is well formed."""
    values: dict[str, float] = {}
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            declared.add(line.split()[2])
            continue
        assert SAMPLE.match(line), f"malformed sample line: {line!r}"
        name = line.split("{")[0].split(" ")[0]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in declared or family in declared, f"sample before its HELP/TYPE: {line!r}"
        key, value = line.rsplit(" ", 1)
        values[key] = float(value)
    return values


def total(values: dict[str, float], name: str) -> float:
    return sum(v for k, v in values.items() if k == name or k.startswith(name + "{"))


def test_metrics_health_and_readiness_of_a_broker_in_memory(tmp_path):
    broker, metrics_port = start(tmp_path)
    try:
        assert get(metrics_port, "/healthz") == (200, '{"status":"ok"}\n')
        status, body = get(metrics_port, "/readyz")
        assert (status, body) == (200, '{"ready":true,"not_ready":[]}\n')
        status, text = get(metrics_port, "/metrics")
        assert status == 200
        before = samples(text)
        assert 'mqtt_messages_received_total{shard="1"}' in before
        for family in ("mqtt_loop_lag_seconds", "mqtt_loop_lag_max_seconds", "mqtt_ring_entries",
                       "mqtt_overflow_entries"):
            assert f'{family}{{shard="0"}}' in before and f'{family}{{shard="1"}}' in before, family
        subscriber = PahoClient(broker.port)
        subscriber.subscribe("m/#", qos=1)
        for n in range(10):
            mosquitto_pub(broker.port, "m/x", f"{n}", qos=1)
        assert len(subscriber.get_n(10)) == 10
        time.sleep(1.2)  # shards publish their counters every tick (500 ms)
        after = samples(get(metrics_port, "/metrics")[1])
        assert total(after, "mqtt_messages_received_total") >= total(before, "mqtt_messages_received_total") + 10
        assert total(after, "mqtt_messages_sent_total") >= total(before, "mqtt_messages_sent_total") + 10
        assert total(after, "mqtt_clients_connected") >= 1
        assert total(after, "mqtt_bytes_received_total") > total(before, "mqtt_bytes_received_total")

        def by_label(values: dict[str, float], name: str, label: str) -> float:
            return sum(v for k, v in values.items() if k.startswith(name + "{") and label in k)

        # By QoS, and the ten mosquitto_pub clients' DISCONNECTs.
        assert by_label(after, "mqtt_publish_received_total", 'qos="1"') >= 10
        assert by_label(after, "mqtt_publish_sent_total", 'qos="1"') >= 10
        assert after['mqtt_disconnects_total{reason="client"}'] >= 10
        assert after['mqtt_messages_dropped_by_reason_total{reason="queue_full"}'] == 0
        subscriber.stop()
    finally:
        broker.stop()


def test_connections_by_listener_offline_sessions_queued_and_inflight_messages(tmp_path):
    """The gauges an operator watches for a stuck fleet: connections per listener and
    transport, offline persistent sessions, messages queued for them and QoS 1 messages a
    subscriber has not acknowledged."""
    port, ws_port, metrics_port = free_port(), free_port(), free_port()
    config = tmp_path / "listeners.yaml"
    config.write_text(f"""
listeners:
  - {{protocol: mqtt, host: 127.0.0.1, port: {port}}}
  - {{protocol: ws, host: 127.0.0.1, port: {ws_port}}}
shards: 2
metrics: {{host: 127.0.0.1, port: {metrics_port}}}
""")
    broker = Broker("ours", port, [BROKER_BIN, "--config", str(config)], tmp_path, "listeners")
    broker.start(ready_timeout=30)
    tcp_label = f'mqtt_connections{{listener="mqtt://127.0.0.1:{port}",transport="mqtt"}}'
    ws_label = f'mqtt_connections{{listener="ws://127.0.0.1:{ws_port}",transport="ws"}}'

    def figures() -> dict[str, float]:
        time.sleep(1.2)  # gauges are published every tick, queue figures every second
        return samples(get(metrics_port, "/metrics")[1])

    try:
        tcp_clients = [PahoClient(port) for _ in range(3)]
        ws_client = PahoClient(ws_port, transport="websockets", setup=lambda c: c.ws_set_options(path="/"))
        now = figures()
        assert (now[tcp_label], now[ws_label]) == (3, 1)
        # A persistent subscriber goes away: its session stays, offline, and collects messages.
        topic = unique("queued")
        offline = PahoClient(port, client_id=unique("offline"), clean_session=False)
        offline.subscribe(topic, qos=1)
        offline.stop()
        for n in range(5):
            mosquitto_pub(port, topic, f"{n}", qos=1)
        # A subscriber that never acknowledges holds its QoS 1 deliveries in flight.
        silent_topic = unique("inflight")
        silent = connected(port, unique("silent"))
        silent.do_subscribe([(silent_topic, 1)])
        for n in range(3):
            mosquitto_pub(port, silent_topic, f"{n}", qos=1)
        assert len(silent.collect_publishes(3, ack=False)) == 3
        now = figures()
        assert total(now, "mqtt_sessions_offline") == 1
        assert total(now, "mqtt_queued_messages") == 5
        assert total(now, "mqtt_inflight_messages") == 3
        assert (now[tcp_label], now[ws_label]) == (4, 1)
        for client in tcp_clients + [ws_client]:
            client.stop()
        silent.close()
        now = figures()
        assert (now[tcp_label], now[ws_label]) == (0, 0)
    finally:
        broker.stop()


def test_bad_requests_get_an_error_and_never_hold_up_mqtt(tmp_path):
    broker, metrics_port = start(tmp_path)
    try:
        assert get(metrics_port, "/nope")[0] == 404
        request = urllib.request.Request(f"http://127.0.0.1:{metrics_port}/metrics", method="POST", data=b"x")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 405
        with socket.create_connection(("127.0.0.1", metrics_port), timeout=5) as huge:
            huge.sendall(b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 20000)
            assert huge.recv(100).startswith(b"HTTP/1.1 431")
        # A client that connects and says nothing holds the listener for at most 2 s, and MQTT
        # traffic meanwhile is not affected at all.
        silent = socket.create_connection(("127.0.0.1", metrics_port), timeout=5)
        subscriber = PahoClient(broker.port)
        topic = unique("during")
        subscriber.subscribe(topic, qos=1)
        started = time.monotonic()
        mosquitto_pub(broker.port, topic, "still flowing", qos=1)
        assert subscriber.get(timeout=2).payload == b"still flowing"
        assert time.monotonic() - started < 1.5
        assert get(metrics_port, "/healthz")[0] == 200  # served once the silent one timed out
        silent.close()
        subscriber.stop()
    finally:
        broker.stop()


def test_readyz_waits_for_mongodb(tmp_path, mongo):
    mongo.stop()
    broker, metrics_port = start(tmp_path, f"""persistence: {{type: mongodb, url: "{mongo.url()}", database: ready}}""")
    try:
        status, body = get(metrics_port, "/readyz")
        assert status == 503 and "store not loaded" in body
        assert get(metrics_port, "/healthz")[0] == 200
        assert "mqtt_store_loaded 0" in get(metrics_port, "/metrics")[1]
        mongo.start()
        deadline = time.monotonic() + 30
        while get(metrics_port, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "never ready after MongoDB came"
            time.sleep(0.5)
        assert "mqtt_store_loaded 1" in get(metrics_port, "/metrics")[1]
        # The store's work: a persistent subscriber and the messages queued for it are writes.
        before = samples(get(metrics_port, "/metrics")[1])
        topic = unique("stored")
        subscriber = PahoClient(broker.port, client_id=unique("durable"), clean_session=False)
        subscriber.subscribe(topic, qos=1)
        subscriber.stop()
        for n in range(5):
            mosquitto_pub(broker.port, topic, f"{n}", qos=1)
        # A session saved at connect, subscribe and disconnect, five queued messages; once the
        # writers have nothing left the backlog gauge is back at 0.
        deadline = time.monotonic() + 10
        while (after := samples(get(metrics_port, "/metrics")[1]))["mqtt_store_pending_writes"] != 0:
            assert time.monotonic() < deadline, "store writes still pending"
            time.sleep(0.2)
        assert after["mqtt_store_writes_total"] >= before["mqtt_store_writes_total"] + 8
        assert after["mqtt_store_batch_seconds_count"] > before["mqtt_store_batch_seconds_count"]
    finally:
        broker.stop()


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def test_a_real_prometheus_scrapes_the_broker_and_promtool_accepts_the_output(tmp_path):
    """Debian's Prometheus scrapes /metrics every second; its HTTP API shows the message
    counters moving after traffic, and `promtool check metrics` finds nothing wrong."""
    broker, metrics_port = start(tmp_path)
    web_port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: mqtt-broker
    static_configs: [{{targets: ["127.0.0.1:{metrics_port}"]}}]
""")
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web_port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"))

    def query(expression: str) -> float | None:
        url = f"http://127.0.0.1:{web_port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                result = json.load(response)["data"]["result"]
        except (OSError, ValueError, KeyError):
            return None
        return float(result[0]["value"][1]) if result else None

    def wait_for(expression: str, predicate, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = query(expression)
            if value is not None and predicate(value):
                return value
            time.sleep(0.5)
        raise AssertionError(f"{expression} = {value} within {timeout}s\n{(tmp_path / 'prometheus.log').read_text()[-2000:]}")

    try:
        assert wait_for('up{job="mqtt-broker"}', lambda v: v == 1) == 1
        before = wait_for("sum(mqtt_messages_received_total)", lambda v: v >= 0)
        subscriber = PahoClient(broker.port)
        subscriber.subscribe("prom/#", qos=1)
        for n in range(25):
            mosquitto_pub(broker.port, "prom/x", f"{n}", qos=1)
        assert len(subscriber.get_n(25)) == 25
        wait_for("sum(mqtt_messages_received_total)", lambda v: v >= before + 25)
        wait_for("sum(mqtt_messages_sent_total)", lambda v: v >= 25)
        assert wait_for("sum(mqtt_clients_connected)", lambda v: v >= 1) >= 1
        subscriber.stop()
        # promtool's linter on the exposition itself.
        status, text = get(metrics_port, "/metrics")
        assert status == 200
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(10)
        except subprocess.TimeoutExpired:
            prometheus.kill()
        broker.stop()


def test_readyz_follows_kafka_when_the_bridge_is_configured(tmp_path, kafka):
    """With a Kafka bridge, /readyz is not ready while no Kafka broker answers, and ready once
    one does; /healthz stays up and /metrics says the same."""
    from test_16_kafka import kafka_config
    kafka.command("topic ready 1")
    kafka.command("down")
    cfg = kafka_config(kafka, publish={"client_events": [{"mqtt_topic": "ready/#", "topic": "ready"}]})
    broker, metrics_port = start(tmp_path, "kafka: " + json.dumps(cfg))
    try:
        def ready_state(timeout: float, want: int) -> tuple[int, str]:
            deadline = time.monotonic() + timeout
            status, body = get(metrics_port, "/readyz")
            while status != want and time.monotonic() < deadline:
                time.sleep(0.3)
                status, body = get(metrics_port, "/readyz")
            return status, body

        time.sleep(2.5)  # past the first metadata requests, which found nobody
        status, body = get(metrics_port, "/readyz")
        assert status == 503 and "Kafka unreachable" in body, body
        assert get(metrics_port, "/healthz")[0] == 200
        assert total(samples(get(metrics_port, "/metrics")[1]), "mqtt_bridge_available") == 0
        kafka.command("up")
        status, body = ready_state(20, 200)
        assert (status, body) == (200, '{"ready":true,"not_ready":[]}\n')
        assert total(samples(get(metrics_port, "/metrics")[1]), "mqtt_bridge_available") == 1
        # Records Kafka acknowledged, and how long each took, in /metrics; promtool accepts it.
        for n in range(3):
            mosquitto_pub(broker.port, "ready/x", f"{n}", qos=1)
        deadline = time.monotonic() + 10
        while total(samples(get(metrics_port, "/metrics")[1]), "mqtt_bridge_records_delivered_total") < 3:
            assert time.monotonic() < deadline, "records not counted as delivered"
            time.sleep(0.3)
        status, text = get(metrics_port, "/metrics")
        values = samples(text)
        assert values["mqtt_bridge_delivery_seconds_count"] >= 3
        assert values['mqtt_bridge_delivery_seconds_bucket{le="+Inf"}'] == values["mqtt_bridge_delivery_seconds_count"]
        assert values["mqtt_bridge_records_failed_total"] == 0
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        # Kafka away: a record waits in librdkafka (pending), and is delivered when it is back.
        # (The gauge is librdkafka's out queue, where a metadata request of the reachability
        # probe may sit for a moment too: waited for, not read once.)
        kafka.command("down")
        publisher = PahoClient(broker.port)
        publisher.client.publish("ready/x", b"while down", qos=1)
        deadline = time.monotonic() + 10
        while samples(get(metrics_port, "/metrics")[1])["mqtt_bridge_records_pending"] < 1:
            assert time.monotonic() < deadline, "the waiting record is not counted as pending"
            time.sleep(0.2)
        kafka.command("up")
        deadline = time.monotonic() + 30
        while ((values := samples(get(metrics_port, "/metrics")[1]))["mqtt_bridge_records_delivered_total"] < 4
               or values["mqtt_bridge_records_pending"] != 0):
            assert time.monotonic() < deadline, f"not delivered once Kafka was back: {values}"
            time.sleep(0.3)
        publisher.stop()
    finally:
        broker.stop()
