"""12: round trips with the mosquitto_pub / mosquitto_sub command line clients."""
import subprocess

import pytest

from helpers import MOSQUITTO_SUB, MosquittoSub, mosquitto_pub, unique, wait_subscribed


def test_sub_all_verbose(broker):
    r = unique("cli")
    sub = MosquittoSub(broker.port, ["#"], extra=["-v"])
    try:
        wait_subscribed(broker.port, f"{r}/probe", sub)
        mosquitto_pub(broker.port, f"{r}/a/b", "hello world")
        assert sub.get_line() == f"{r}/a/b hello world"
    finally:
        sub.stop()


@pytest.mark.parametrize("qos", [1, 2])
def test_pub_sub_qos(broker, qos):
    r = unique("cli")
    sub = MosquittoSub(broker.port, [f"{r}/#"], qos=qos, extra=["-v"])
    try:
        wait_subscribed(broker.port, f"{r}/probe", sub)
        for i in range(5):
            mosquitto_pub(broker.port, f"{r}/q", f"msg-{i}", qos=qos)
        assert [sub.get_line() for _ in range(5)] == [f"{r}/q msg-{i}" for i in range(5)]
        sub.expect_no_line(0.5)
    finally:
        sub.stop()


def test_retained_with_cli(broker):
    t = unique("cli") + "/ret"
    mosquitto_pub(broker.port, t, "kept", qos=1, retain=True)
    out = subprocess.run([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv311",
                          "-t", t, "-C", "1", "-v", "-W", "5"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{t} kept"
    # clear it: a new subscriber then times out with nothing
    mosquitto_pub(broker.port, t, None, qos=1, retain=True)
    out = subprocess.run([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv311",
                          "-t", t, "-C", "1", "-W", "2"], capture_output=True, text=True, timeout=10)
    assert out.stdout == ""


def test_retained_flag_visible_to_cli(broker):
    r = unique("cli")
    mosquitto_pub(broker.port, f"{r}/old", "stale", retain=True)
    # -R: do not print stale (retained) messages
    sub = MosquittoSub(broker.port, [f"{r}/#"], extra=["-v", "-R"])
    try:
        wait_subscribed(broker.port, f"{r}/probe", sub)
        mosquitto_pub(broker.port, f"{r}/new", "fresh")
        assert sub.get_line() == f"{r}/new fresh"
        sub.expect_no_line(0.5)
    finally:
        sub.stop()


def test_persistent_cli_session_gets_offline_messages(broker):
    r = unique("cli")
    cid = unique("clisub")
    args = ["-c", "-i", cid, "-v"]
    sub = MosquittoSub(broker.port, [f"{r}/#"], qos=1, extra=args)
    wait_subscribed(broker.port, f"{r}/probe", sub)
    sub.stop()
    for i in range(3):
        mosquitto_pub(broker.port, f"{r}/off", f"queued-{i}", qos=1)
    out = subprocess.run([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv311",
                          "-t", f"{r}/#", "-q", "1", "-C", "3", "-W", "5"] + args,
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.splitlines() == [f"{r}/off queued-{i}" for i in range(3)]
