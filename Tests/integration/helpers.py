"""Test helpers: a paho-mqtt client wrapper, mosquitto_pub/sub runners and health checks."""
from __future__ import annotations

import itertools
import queue
import shutil
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import mqtt_raw as raw

MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"

_ids = itertools.count()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


class PahoClient:
    """paho-mqtt (callback API v2; MQTT 3.1.1, or MQTT 5 with `protocol=mqtt.MQTTv5`) with a
    queue of received messages."""

    def __init__(self, port: int, client_id: str | None = None, clean_session: bool = True,
                 keepalive: int = 60, will: tuple | None = None, connect: bool = True,
                 transport: str = "tcp", setup=None, host: str = "127.0.0.1",
                 protocol: int = mqtt.MQTTv311, clean_start: bool = True, properties=None):
        """transport: "tcp" or "websockets"; setup(client) runs before connecting (tls_set,
        ws_set_options, username_pw_set). MQTT 5: `clean_start` and the CONNECT `properties`
        (clean_session is 3.1.1's)."""
        self.port = port
        self.host = host
        self.protocol = protocol
        self.client_id = client_id if client_id is not None else unique("paho")
        self.clean_start, self.connect_properties = clean_start, properties
        self.messages: queue.Queue = queue.Queue()
        self.connack = threading.Event()
        self.connect_rc = None
        self.session_present = None
        self.connack_properties = None
        self.disconnected = threading.Event()
        self.disconnect_rc = None
        self._subacks: dict[int, list] = {}
        self._sub_ev: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        if protocol == mqtt.MQTTv5:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=protocol, transport=transport)
        else:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                            clean_session=clean_session, protocol=protocol, transport=transport)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = self._on_disconnect
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)
        if will:
            c.will_set(*will)
        if setup:
            setup(c)
        self.client = c
        self.keepalive = keepalive
        if connect:
            self.connect()

    def connect(self, timeout: float = 5.0) -> "PahoClient":
        if self.protocol == mqtt.MQTTv5:
            self.client.connect(self.host, self.port, keepalive=self.keepalive, clean_start=self.clean_start,
                                properties=self.connect_properties)
        else:
            self.client.connect(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        assert self.connack.wait(timeout), f"{self.client_id}: no CONNACK"
        assert self.connect_rc == 0, f"{self.client_id}: CONNACK rc {self.connect_rc}"
        return self

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connect_rc = rc.value if hasattr(rc, "value") else rc
        self.session_present = flags.session_present
        self.connack_properties = properties
        self.connack.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put(msg)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        with self._lock:
            self._subacks[mid] = [rc.value for rc in reason_codes]
            ev = self._sub_ev.setdefault(mid, threading.Event())
        ev.set()

    def _on_disconnect(self, client, userdata, flags, rc, properties=None):
        self.disconnect_rc = rc.value if hasattr(rc, "value") else rc
        self.disconnected.set()

    def subscribe(self, topic, qos: int = 0, timeout: float = 5.0, options=None, properties=None) -> list:
        """MQTT 5: `options` (paho's SubscribeOptions, in place of `qos`) and `properties`."""
        with self._lock:
            if options is not None:
                result, mid = self.client.subscribe(topic, options=options, properties=properties)
            elif properties is not None:
                result, mid = self.client.subscribe(topic, qos, properties=properties)
            else:
                result, mid = self.client.subscribe(topic, qos)
            assert result == mqtt.MQTT_ERR_SUCCESS
            ev = self._sub_ev.setdefault(mid, threading.Event())
        assert ev.wait(timeout), f"{self.client_id}: no SUBACK"
        return self._subacks[mid]

    def publish(self, topic, payload=b"", qos: int = 0, retain: bool = False, wait: bool = True,
                timeout: float = 10.0, properties=None):
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if wait and qos > 0:
            info.wait_for_publish(timeout)
            assert info.is_published(), f"{self.client_id}: publish to {topic} not acknowledged"
        return info

    def get(self, timeout: float = 5.0):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: no message within {timeout}s") from None

    def get_n(self, n: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.client_id}: got {len(out)} of {n} messages within {timeout}s")
            try:
                out.append(self.messages.get(timeout=remaining))
            except queue.Empty:
                pass
        return out

    def expect_none(self, timeout: float = 1.0) -> None:
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError(f"{self.client_id}: unexpected message {m.topic} {m.payload!r}")

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def stop(self) -> None:
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()


def assert_broker_healthy(port: int, timeout: float = 5.0) -> None:
    """A fresh client can subscribe, publish at QoS 1 and receive its own message."""
    topic = unique("health")
    with raw.connected(port, unique("healthy")) as c:
        c.do_subscribe([(topic, 1)], mid=7, expect_codes=[1])
        c.do_publish(topic, b"ok", qos=1, mid=8)
        p = c.expect(raw.PUBLISH, timeout)
        assert (p.topic, p.payload) == (topic, b"ok"), p
        c.send(raw.puback(p.mid))
        c.do_disconnect()


class HealthyPair:
    """A subscriber + publisher that are connected before a misbehaving client acts,
    and must keep working after it has been thrown out."""

    def __init__(self, port: int):
        self.port = port
        self.topic = unique("pair")
        self.sub = raw.connected(port, unique("pair-sub"))
        self.sub.do_subscribe([(self.topic, 1)], expect_codes=[1])
        self.pub = raw.connected(port, unique("pair-pub"))
        self.n = 0

    def check(self) -> None:
        self.n += 1
        payload = f"still-alive-{self.n}".encode()
        self.pub.do_publish(self.topic, payload, qos=1, mid=self.n)
        p = self.sub.expect(raw.PUBLISH)
        assert (p.topic, p.payload) == (self.topic, payload), p
        self.sub.send(raw.puback(p.mid))

    def close(self) -> None:
        self.sub.do_disconnect()
        self.pub.do_disconnect()


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash (cost 4, fast) made by the broker's own `passwd` command."""
    from conftest import BROKER_BIN
    r = subprocess.run([BROKER_BIN, "passwd", "--cost", "4"], input=password.encode(), capture_output=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().strip()
    assert out.startswith("$2b$04$") and len(out) == 60
    return out


def mosquitto_pub(port: int, topic: str, message: str | None = None, qos: int = 0, retain: bool = False,
                  extra: list[str] | None = None, timeout: float = 10.0) -> subprocess.CompletedProcess:
    argv = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv311", "-t", topic,
            "-q", str(qos)]
    if message is None:
        argv.append("-n")
    else:
        argv += ["-m", message]
    if retain:
        argv.append("-r")
    argv += extra or []
    r = subprocess.run(argv, capture_output=True, timeout=timeout)
    assert r.returncode == 0, f"mosquitto_pub failed ({r.returncode}): {r.stderr!r}"
    return r


class MosquittoSub:
    """A running mosquitto_sub; lines of its stdout are collected in a queue."""

    def __init__(self, port: int, topics: list[str], qos: int = 0, extra: list[str] | None = None):
        argv = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv311", "-q", str(qos)]
        for t in topics:
            argv += ["-t", t]
        argv += extra or []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def get_line(self, timeout: float = 5.0) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("mosquitto_sub printed nothing") from None
        assert line is not None, f"mosquitto_sub exited: {self.proc.stderr.read()!r}"
        return line

    def expect_no_line(self, timeout: float = 1.0) -> None:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError(f"mosquitto_sub printed unexpected {line!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_subscribed(port: int, topic: str, sub_lines: MosquittoSub, timeout: float = 5.0) -> None:
    """Publish probes to `topic` until the mosquitto_sub prints one (its SUBSCRIBE is then active)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mosquitto_pub(port, topic, "probe")
        try:
            line = sub_lines.lines.get(timeout=0.3)
        except queue.Empty:
            continue
        assert line is not None
        # drain further probes
        time.sleep(0.2)
        while not sub_lines.lines.empty():
            sub_lines.lines.get_nowait()
        return
    raise AssertionError("mosquitto_sub never became subscribed")
