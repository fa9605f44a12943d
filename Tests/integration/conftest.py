"""Fixtures: start a fresh broker under test on a free loopback port.

BROKER_UNDER_TEST=mosquitto  -> /usr/sbin/mosquitto with a generated mosquitto.conf
BROKER_UNDER_TEST=ours       -> $BROKER_BIN (default <repo>/.build/debug/mqtt-broker)
                                as `mqtt-broker --port P --shards N [--config FILE]`
(default: ours)

Usage in a test:

    def test_x(broker):                 # default broker, already accepting TCP
        c = connected(broker.port)

    def test_y(broker_factory):         # broker with limits / extras
        b = broker_factory(max_inflight_messages=2, max_queued_messages=5)
"""
from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BROKER_UNDER_TEST = os.environ.get("BROKER_UNDER_TEST", "ours")
MOSQUITTO = os.environ.get("MOSQUITTO_BIN", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
BROKER_BIN = os.environ.get("BROKER_BIN", str(REPO / ".build" / "debug" / "mqtt-broker"))

# Limits understood by the factory. value: mosquitto.conf key (None: no mosquitto equivalent).
LIMITS = {
    "max_packet_size": "max_packet_size",
    "max_inflight_messages": "max_inflight_messages",
    "max_queued_messages": "max_queued_messages",
    "queue_backpressure": None,  # mosquitto always drops past max_queued_messages
    "max_connections": "max_connections",
    "max_keepalive": "max_keepalive",
    "max_topic_levels": None,
    "connect_timeout_seconds": None,
    "session_expiry_seconds": None,  # mosquitto's persistent_client_expiration has no seconds unit
}

# mosquitto.conf defaults every test starts from
MOSQUITTO_BASE = {
    "allow_anonymous": "true",
    "persistence": "false",
    "max_inflight_messages": "20",
    "max_queued_messages": "1000",
    "sys_interval": "1",
}


def is_mosquitto() -> bool:
    return BROKER_UNDER_TEST == "mosquitto"


def pytest_configure(config):
    if BROKER_UNDER_TEST not in ("mosquitto", "ours"):
        raise pytest.UsageError(f"BROKER_UNDER_TEST must be 'mosquitto' or 'ours', not {BROKER_UNDER_TEST!r}")


def pytest_report_header(config):
    binary = MOSQUITTO if is_mosquitto() else BROKER_BIN
    return f"broker under test: {BROKER_UNDER_TEST} ({binary})"


def pytest_collection_modifyitems(config, items):
    if not is_mosquitto() or os.environ.get("ITEST_RUN_OURS_ONLY"):
        return
    skip = pytest.mark.skip(reason="ours_only: not applicable to mosquitto")
    for item in items:
        if "ours_only" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _yaml(value, indent: int = 0) -> str:
    """Tiny block-style YAML emitter for dicts/lists/scalars."""
    pad = "  " * indent
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                out.append(f"{pad}{k}:")
                out.append(_yaml(v, indent + 1))
            else:
                out.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict):
                items = list(v.items())
                first_k, first_v = items[0]
                out.append(f"{pad}- {first_k}: {_scalar(first_v)}")
                for k, vv in items[1:]:
                    if isinstance(vv, (dict, list)):  # e.g. a listener's tls section
                        out.append(f"{pad}  {k}:")
                        out.append(_yaml(vv, indent + 2))
                    else:
                        out.append(f"{pad}  {k}: {_scalar(vv)}")
            else:
                out.append(f"{pad}- {_scalar(v)}")
    return "\n".join(out)


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


_ALL_BROKERS: list["Broker"] = []


@atexit.register
def _kill_leftover_brokers():
    """Safety net: never leave a broker running after pytest exits (e.g. after a hard timeout)."""
    for b in _ALL_BROKERS:
        if b.proc is not None and b.proc.poll() is None:
            b.proc.kill()


class Broker:
    def __init__(self, kind: str, port: int, argv: list[str], workdir: pathlib.Path, name: str):
        self.kind = kind
        self.host = "127.0.0.1"
        self.port = port
        self.argv = argv
        self.workdir = workdir
        self.name = name
        self.stderr_path = workdir / f"{name}.stderr"
        self.stdout_path = workdir / f"{name}.stdout"
        self.proc: subprocess.Popen | None = None
        self.stopped = False  # set when the test (or teardown) stops it on purpose

    def start(self, ready_timeout: float = 15.0) -> "Broker":
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)
        _ALL_BROKERS.append(self)
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited early with {self.proc.returncode}: "
                                   f"{' '.join(self.argv)}\n{self.stderr_tail()}")
            if self._ready():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"broker did not accept TCP on port {self.port} "
                                   f"within {ready_timeout}s\n{self.stderr_tail()}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        if self.kind == "mosquitto":
            # mosquitto 2.0.11 miscounts a TCP connection that closes before CONNECT (it frees
            # an extra max_connections slot), so don't probe it: it logs "running" after listen().
            return b" running" in self.stderr_path.read_bytes()
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        if self.proc is None:
            return None
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self._err, self._out):
            f.close()
        return self.proc.returncode

    def stderr_tail(self, lines: int = 40) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def broker_factory(request, tmp_path):
    """Return start(shards=4, sys_interval=None, mosquitto_extra=(), ours_extra=None, **limits) -> Broker.

    limits: see LIMITS. sys_interval: seconds between $SYS updates.
    mosquitto_extra: extra mosquitto.conf lines. ours_extra: dict merged into our YAML config.
    A YAML config is written for our broker only when limits/sys_interval/ours_extra are given;
    otherwise it runs as `mqtt-broker --port P --shards N`.
    """
    started: list[Broker] = []

    def start(shards: int = 4, sys_interval: int | None = None, mosquitto_extra=(),
              ours_extra: dict | None = None, **limits) -> Broker:
        unknown = set(limits) - set(LIMITS)
        if unknown:
            raise TypeError(f"unknown limits {unknown}")
        port = free_port()
        name = f"broker{len(started)}"
        if is_mosquitto():
            conf = dict(MOSQUITTO_BASE)
            if sys_interval is not None:
                conf["sys_interval"] = str(sys_interval)
            for k, v in limits.items():
                if LIMITS[k] is None:
                    raise RuntimeError(f"limit {k} has no mosquitto equivalent; mark the test ours_only")
                conf[LIMITS[k]] = str(v)
            lines = [f"listener {port} 127.0.0.1", "log_dest stderr",
                     "log_type error", "log_type warning", "log_type notice", "log_type information"]
            lines += [f"{k} {v}" for k, v in conf.items()]
            lines += list(mosquitto_extra)
            path = tmp_path / f"{name}.conf"
            path.write_text("\n".join(lines) + "\n")
            argv = [MOSQUITTO, "-c", str(path)]
        else:
            if not os.access(BROKER_BIN, os.X_OK):
                pytest.fail(f"BROKER_BIN {BROKER_BIN} is not an executable; build the broker "
                            "(swift build) or set BROKER_UNDER_TEST=mosquitto", pytrace=False)
            argv = [BROKER_BIN, "--port", str(port), "--shards", str(shards)]
            if limits or sys_interval is not None or ours_extra:
                cfg: dict = {"listeners": [{"protocol": "mqtt", "host": "127.0.0.1", "port": port}]}
                if limits:
                    cfg["limits"] = dict(limits)
                if sys_interval is not None:
                    cfg["sys_interval_seconds"] = sys_interval
                cfg["allow_anonymous"] = True
                for k, v in (ours_extra or {}).items():
                    if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                        cfg[k].update(v)
                    else:
                        cfg[k] = v
                path = tmp_path / f"{name}.yaml"
                path.write_text(_yaml(cfg) + "\n")
                argv += ["--config", str(path)]
        b = Broker(BROKER_UNDER_TEST, port, argv, tmp_path, name)
        started.append(b)
        return b.start()

    yield start

    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
    for b in started:
        alive_at_end = b.running() or b.stopped
        b.stop()
        if failed or not alive_at_end:
            print(f"\n----- {b.name} ({' '.join(b.argv)}) stderr tail -----\n{b.stderr_tail()}")
        if not alive_at_end and not failed:
            pytest.fail(f"{b.name} was not running at the end of the test (crashed?)", pytrace=False)


@pytest.fixture
def broker(broker_factory) -> Broker:
    """A fresh broker with default settings (ours: --shards 4)."""
    return broker_factory()
