#!/usr/bin/env python3
"""Writes the seed corpora of the program-driven fuzz targets (FuzzTopicMatcher, FuzzEngine).

Their inputs are little programs (see the targets' comments for the encoding); these seeds are
small hand-written programs that reach the interesting paths at once: wildcard and `$` matching,
retained updates, QoS 1/2 flows, wills, takeover between the two shards.
    Tests/Fuzz/make-program-seeds.py
"""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"

# ---- FuzzTopicMatcher: op byte (op % 6: 0 sub, 1 unsub, 2 remote, 3 publish, 4 retained lookup,
# 5 validate), then a string: length byte (& 15) and one byte per character.
T = {"a": 0, "b": 1, "/": 2, "+": 3, "#": 4, "$": 5, "é": 7}


def s(text):
    return bytes([len(text)] + [T[ch] for ch in text])


def sub(session, qos, text):  # op % 6 == 0, session = (op >> 3) % 4, qos = (op >> 5) % 3
    for op in range(256):
        if op % 6 == 0 and (op >> 3) % 4 == session and (op >> 5) % 3 == qos:
            return bytes([op]) + s(text)
    raise ValueError


def op(kind, text, high=0):
    for o in range(256):
        if o % 6 == kind and o & 0xC0 == high:
            return bytes([o]) + s(text)
    raise ValueError


topic_seeds = {
    "wildcards": sub(0, 1, "a/+") + sub(1, 2, "a/#") + sub(2, 0, "#") + sub(3, 1, "+/+")
    + op(3, "a/b") + op(3, "a") + op(3, "$a/b") + op(1, "a/#") + op(3, "a/b"),
    "dollar": sub(0, 0, "$a/#") + sub(1, 1, "+/a") + op(3, "$a/a") + op(3, "b/a") + op(2, "$a/+", 0x80),
    "retained": op(3, "a/b", 0x40) + op(3, "a", 0x40) + op(3, "$a", 0x40) + op(4, "#") + op(4, "a/#")
    + op(4, "+/b") + op(3, "a/b", 0xC0) + op(4, "+"),
    "empty-levels": sub(0, 2, "/") + sub(1, 1, "+/") + sub(2, 1, "//#") + op(3, "/") + op(3, "//")
    + op(3, "//a", 0x40) + op(4, "/+/+"),
    "invalid": op(5, "a/b#") + op(5, "a+") + op(5, "#/a") + op(5, "") + op(5, "é/+"),
}

# ---- FuzzEngine: op byte = (slot << 3) | kind. kinds: 0 raw (length, bytes), 1 CONNECT (p),
# 2 SUBSCRIBE (p, filters, id), 3 PUBLISH (p, topic, payload length, [id]), 4 ack (p, id),
# 5 tick (n x 100 ms), 6 drop, 7 deliver inbox posts. Slots 0 and 2 are on shard 0, 1 and 3
# on shard 1. Topics: length byte (& 7) and characters from "ab/+#$/c".
E = {"a": 0, "b": 1, "/": 2, "+": 3, "#": 4, "$": 5, "c": 7}


def et(text):
    return bytes([len(text)] + [E[ch] for ch in text])


def connect(slot, client=0, clean=True, keepalive=3, will=False, will_qos=0):
    p = client | (4 if clean else 0) | (keepalive << 3) | (0x20 if will else 0) | (will_qos << 6)
    return bytes([slot << 3 | 1, p])


def connect5(slot, client=0, clean=True, keepalive=3, will=False, q=0):
    """An MQTT 5 CONNECT (bits 7 and 6); q: session expiry (bits 0-1: 0, 1, 30 s), receive
    maximum 2 (bit 2), topic alias maximum (bit 3), maximum packet size 64 (bit 4), will retain
    (bit 5), will delay (bit 6)."""
    p = client | (4 if clean else 0) | (keepalive << 3) | (0x20 if will else 0) | 0xC0
    return bytes([slot << 3 | 1, p, q])


def v5(packet, q):
    """A subscribe/publish/ack op for an MQTT 5 slot: its bytes, then the v5 byte q."""
    return packet + bytes([q])


def subscribe(slot, text, qos=1, pid=1, shared=None):
    """shared: None, "share" ("$share/" + text, text = group/filter) or "queue" ("$queue/" + text)."""
    p = qos << 2 | {None: 0, "share": 0x02, "queue": 0x82}[shared]
    return bytes([slot << 3 | 2, p]) + et(text) + bytes([pid])


def publish(slot, text, qos=1, retain=False, pid=1, size=3, big=False):
    p = qos | (4 if retain else 0) | (0x80 if big else 0)
    return bytes([slot << 3 | 3, p]) + et(text) + bytes([size]) + (bytes([pid]) if qos else b"")


def ack(slot, kind, pid):  # 0 PUBACK 1 PUBREC 2 PUBREL 3 PUBCOMP 4 UNSUBSCRIBE 5 PINGREQ 6 DISCONNECT
    return bytes([slot << 3 | 4, kind, pid])


def unsubscribe(slot, text, pid=2, shared=None):
    kind = 4 | {None: 0, "share": 0x80, "queue": 0xC0}[shared]
    return bytes([slot << 3 | 4, kind, pid]) + et(text)


def tick(n):
    return bytes([5, n])


def drop(slot):
    return bytes([slot << 3 | 6])


SETTLE = bytes([7])

CONNECT_RAW = bytes([0x10, 0x0D, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 1]) + b"z"
engine_seeds = {
    "pubsub-qos1": connect(0) + connect(1, client=1) + SETTLE + subscribe(1, "a/+") + SETTLE
    + publish(0, "a/b", pid=5) + SETTLE + ack(1, 0, 1) + tick(5),
    "qos2": connect(0) + connect(2, client=1) + subscribe(2, "#", qos=2) + publish(0, "b", qos=2, pid=9)
    + ack(0, 2, 9) + ack(2, 1, 1) + ack(2, 3, 1) + SETTLE,
    "takeover-persistent": connect(0, clean=False) + SETTLE + subscribe(0, "a/#", qos=2)
    + connect(2, client=1) + publish(2, "a/b", qos=1, pid=3) + connect(1, clean=False) + SETTLE
    + publish(2, "a/c", qos=2, pid=4) + SETTLE + ack(1, 0, 1) + drop(1) + SETTLE + tick(200),
    "will-and-retained": connect(1, client=1) + subscribe(1, "+/+") + connect(0, will=True, will_qos=1)
    + publish(0, "a/b", retain=True, big=True) + drop(0) + SETTLE + connect(2) + subscribe(2, "#") + SETTLE,
    "raw-connect": bytes([0, len(CONNECT_RAW)]) + CONNECT_RAW + bytes([0, 4, 0x82, 0x06, 0, 1])
    + bytes([0, 4]) + bytes([0, 1, ord("a"), 0]) + tick(30),
    "keepalive": connect(0, keepalive=1) + tick(10) + connect(1, keepalive=2) + tick(25) + SETTLE,
    "queue-window": connect(0, clean=False) + subscribe(0, "c") + drop(0) + connect(1, client=1)
    + publish(1, "c", pid=1) + publish(1, "c", pid=2) + publish(1, "c", qos=2, pid=3) + publish(1, "c", pid=4)
    + SETTLE + connect(2, clean=False) + SETTLE + ack(2, 0, 1) + ack(2, 0, 2),
    "shared-group": connect(0, clean=False) + subscribe(0, "a/#", shared="share") + connect(1, client=1)
    + subscribe(1, "a/#", shared="share") + connect(2, client=2) + subscribe(2, "c", shared="queue") + SETTLE
    + publish(2, "b", pid=1) + publish(2, "c", qos=2, pid=2) + publish(2, "b", pid=3) + SETTLE + drop(0)
    + SETTLE + publish(2, "b", qos=1, pid=4) + SETTLE + unsubscribe(1, "a/#", shared="share") + SETTLE
    + connect(3, clean=False) + SETTLE + tick(200),
    # MQTT 5: a persistent session with a topic alias maximum, a publisher whose will is delayed,
    # subscription options and an identifier, a topic alias defined then used alone, expiry,
    # a user property, the will after its delay; then a subscriber with a 64-byte packet limit.
    "v5-session": connect5(0, clean=False, q=0x0A) + connect5(1, client=1, will=True, q=0x41) + SETTLE
    + v5(subscribe(0, "a/+", qos=2), 0x26) + SETTLE + v5(publish(1, "a/b", pid=5), 0x17)
    + v5(publish(1, "a/b", pid=6), 0x52) + SETTLE + v5(ack(0, 1, 1), 0) + drop(1) + tick(15) + SETTLE
    + drop(0) + SETTLE + connect5(2, clean=False, q=0x0A) + SETTLE,
    "v5-limits": connect5(0, q=0x10) + v5(subscribe(0, "#", qos=1), 0x11) + connect(1, client=1) + SETTLE
    + publish(1, "a", pid=1, size=31, big=True) + publish(1, "b", pid=2) + SETTLE + v5(ack(0, 0, 1), 0)
    + v5(publish(0, "b", qos=0), 0x08) + SETTLE + tick(40),
}

for target, seeds in (("FuzzTopicMatcher", topic_seeds), ("FuzzEngine", engine_seeds)):
    directory = ROOT / target
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (directory / name).write_bytes(data)
    print(target, sorted(seeds))
