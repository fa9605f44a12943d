#!/usr/bin/env python3
"""Resident memory of offline persistent sessions with queued messages, this broker beside
Mosquitto (issue 18, item 5): SESSIONS clients connect with clean session 0, subscribe to one
topic at QoS 1 and disconnect; one publisher then sends MESSAGES QoS 1 messages (16-byte
payloads) to that topic, so every session queues each of them. RSS (VmRSS) is read before the
sessions, after them, and after the messages.

    .venv/bin/python Benchmarks/offline_memory.py [--sessions 10000] [--messages 100]

Both brokers keep at most 1,000 queued messages per client (their default), no persistence
(Mosquitto `persistence false`, ours in memory), loopback, 2 shards for ours."""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "integration"))
import mqtt_raw as raw  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"broker did not start on {port}")


def start(kind: str, port: int, work: str) -> subprocess.Popen:
    if kind == "mosquitto":
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000\nmax_inflight_messages 20\nlog_dest none\n")
        return subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = os.path.join(work, "ours.yaml")
    with open(conf, "w") as f:
        f.write(f"listeners: [{{protocol: mqtt, host: 127.0.0.1, port: {port}}}]\nshards: 2\nlog: {{level: warning}}\n")
    binary = os.environ.get("BROKER_BIN", os.path.join(ROOT, ".build/release/mqtt-broker"))
    return subprocess.Popen([binary, "--config", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(kind: str, sessions: int, messages: int) -> tuple[int, int, int]:
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        broker = start(kind, port, work)
        try:
            wait_port(port)
            time.sleep(0.5)
            empty = rss_kib(broker.pid)
            for n in range(sessions):
                client = raw.RawClient(port)
                client.do_connect(f"offline-{n}", clean=False)
                client.do_subscribe([("mem/all", 1)])
                client.do_disconnect()
                client.close()
            time.sleep(1)
            with_sessions = rss_kib(broker.pid)
            publisher = raw.RawClient(port)
            publisher.do_connect("mem-publisher")
            for mid in range(1, messages + 1):
                publisher.send(raw.publish("mem/all", b"0123456789abcdef", qos=1, mid=mid))
                publisher.expect_ack(raw.PUBACK, mid, timeout=60)
            publisher.do_disconnect()
            publisher.close()
            time.sleep(2)
            return empty, with_sessions, rss_kib(broker.pid)
        finally:
            broker.terminate()
            broker.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    print(f"{'broker':10} {'empty KiB':>10} {'sessions KiB':>13} {'queued KiB':>11} {'B/session':>10} {'B/queued msg':>13}")
    for kind in ("mosquitto", "ours"):
        empty, with_sessions, queued = measure(kind, args.sessions, args.messages)
        per_session = (with_sessions - empty) * 1024 / args.sessions
        per_message = (queued - with_sessions) * 1024 / (args.sessions * args.messages)
        print(f"{kind:10} {empty:>10} {with_sessions:>13} {queued:>11} {per_session:>10.0f} {per_message:>13.1f}")


if __name__ == "__main__":
    main()
