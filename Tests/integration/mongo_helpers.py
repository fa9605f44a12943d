"""Shared by the MongoDB tests (persistence, cluster): secantusdb, a MongoDB wire-protocol
server from PyPI, started on a free port with its data in a folder (so that it can be stopped
and started again with its data), and a publisher that records what was acknowledged."""
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

from conftest import free_port
from helpers import PahoClient, unique

SECANTUSD = shutil.which("secantusd-py") or str(pathlib.Path(sys.executable).parent / "secantusd-py")


class MongoServer:
    """secantusd-py on 127.0.0.1:port with its data under `path` (survives stop/start)."""

    def __init__(self, path: pathlib.Path):
        if not os.access(SECANTUSD, os.X_OK):
            pytest.fail(f"{SECANTUSD} missing: pip install -r Tests/integration/requirements.txt", pytrace=False)
        self.path = path
        self.port = free_port()
        self.proc = None
        self.start()

    def start(self, auth: bool = False) -> None:
        self.log = open(self.path.parent / f"secantusd-{self.port}.log", "ab")
        self.proc = subprocess.Popen([SECANTUSD, "--host", "127.0.0.1", "--port", str(self.port),
                                      "--storage-path", str(self.path)] + (["--auth"] if auth else []),
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                assert self.proc.poll() is None, "secantusd exited"
                time.sleep(0.1)
        raise AssertionError("secantusd did not listen")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # secantusd stops on SIGINT at once; on SIGTERM it can take long.
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def url(self, database: str = "", credentials: str = "") -> str:
        user = f"{credentials}@" if credentials else ""
        options = "directConnection=true" + ("&authSource=admin" if credentials else "")
        return f"mongodb://{user}127.0.0.1:{self.port}/{database}?{options}"

    def db(self, name: str):
        return pymongo.MongoClient(self.url(), serverSelectionTimeoutMS=5000)[name]


@pytest.fixture
def mongo(tmp_path):
    server = MongoServer(tmp_path / "mongo-data")
    yield server
    server.stop()


class Publisher(threading.Thread):
    """Publishes payloads `<tag>-<n>` at `qos` as fast as acknowledgements come back, recording
    which ones the broker acknowledged (PUBACK for QoS 1, PUBREC for QoS 2)."""

    def __init__(self, port: int, topic: str, qos: int, tag: str):
        super().__init__(daemon=True)
        self.acknowledged: set[str] = set()
        self.sent = 0
        self.stop_event = threading.Event()
        self.topic, self.qos, self.tag = topic, qos, tag
        self.pending: dict[int, str] = {}
        self.early: set[int] = set()
        self.acked_at: dict[str, float] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique(tag), protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(20)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        # May run before publish() returns its mid (paho calls it under its own lock).
        with self.lock:
            payload = self.pending.pop(mid, None)
            if payload is None:
                self.early.add(mid)
        if payload is not None:
            self.acknowledged.add(payload)
            self.acked_at[payload] = time.monotonic()

    def run(self):
        n = 0
        while not self.stop_event.is_set():
            payload = f"{self.tag}-{n}"
            info = self.client.publish(self.topic, payload, qos=self.qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break
            with self.lock:
                if info.mid in self.early:
                    self.early.discard(info.mid)
                    self.acknowledged.add(payload)
                    self.acked_at[payload] = time.monotonic()
                else:
                    self.pending[info.mid] = payload
            n += 1
            self.sent = n
            # paho queues beyond its in-flight window; keep the backlog short.
            while len(self.pending) > 40 and not self.stop_event.is_set():
                time.sleep(0.001)

    def stop(self):
        self.stop_event.set()
        self.client.loop_stop()


def collect(client: PahoClient, quiet: float = 3.0, timeout: float = 60.0) -> list[str]:
    """Payloads received until none came for `quiet` seconds."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = client.messages.get(timeout=quiet)
        except Exception:
            break
        got.append(message.payload.decode())
    return got


def read_sys(port: int, topic: str) -> str:
    out = subprocess.run(["mosquitto_sub", "-p", str(port), "-t", topic, "-C", "1", "-W", "5"],
                         capture_output=True, text=True)
    return out.stdout.strip()


class CuttableLink(threading.Thread):
    """A TCP forwarder from a free loopback port to MongoDB, for one broker node: `cut()` drops
    its connections and refuses new ones until `heal()`, so that node is cut off from MongoDB
    while the others still reach it (a network partition)."""

    def __init__(self, target_port: int):
        super().__init__(daemon=True)
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.start()

    def url(self, database: str = "") -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}?directConnection=true"

    def run(self):
        while True:
            try:
                accepted, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_off.is_set():
                accepted.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                accepted.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [accepted, upstream]
            for source, sink in ((accepted, upstream), (upstream, accepted)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        self.cut_off.set()
        with self.lock:
            cut, self.sockets = self.sockets, []
        for s in cut:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def heal(self) -> None:
        self.cut_off.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()
