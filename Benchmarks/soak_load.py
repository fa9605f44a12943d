#!/usr/bin/env python3
"""Mixed MQTT traffic with reconnect churn, for Benchmarks/soak.sh (paho-mqtt, MQTT 3.1.1).

Runs until killed or for --seconds:
  - steady subscribers (clean and persistent, QoS 0/1/2, wildcards) that stay connected;
  - publishers sending QoS 0/1/2 messages of 10 B to 64 KiB to a few hundred topics, some
    retained (and cleared again), at a bounded rate;
  - churn: clients that connect, subscribe, publish, then disconnect cleanly, drop the socket
    (with a will), or are taken over by a second client with the same id; persistent sessions
    go offline while messages are queued for them and come back later.
Prints a line of counters every 10 s. Exits non-zero if a steady QoS 1/2 subscriber stops
receiving.
"""
import argparse
import itertools
import random
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

counter = {"published": 0, "received": 0, "connects": 0, "drops": 0, "takeovers": 0}
lock = threading.Lock()


def bump(key, n=1):
    with lock:
        counter[key] += n


def client(port, cid, clean=True, will=False, on_message=None):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean, protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(50)
    c.max_queued_messages_set(1000)
    if will:
        c.will_set(f"soak/will/{cid}", b"gone", qos=1)
    if on_message:
        c.on_message = on_message
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    bump("connects")
    return c


def steady_subscribers(port, stop):
    last = {"t": time.monotonic()}

    def on_message(c, u, m):
        bump("received")
        if m.qos > 0:
            last["t"] = time.monotonic()

    subs = []
    for i, (flt, qos, clean) in enumerate([("soak/t/#", 1, True), ("soak/t/+/x", 2, False), ("soak/#", 0, True),
                                           ("soak/t/1/+", 1, False)]):
        c = client(port, f"soak-steady-{i}", clean=clean, on_message=on_message)
        c.subscribe(flt, qos)
        subs.append(c)
    return subs, last


def publisher(port, stop, rate):
    c = client(port, f"soak-pub-{random.randrange(1 << 30)}")
    sizes = [10, 100, 1000, 8000, 65536]
    weights = [40, 30, 20, 9, 1]
    interval = 1.0 / rate
    for n in itertools.count():
        if stop.is_set():
            break
        topic = f"soak/t/{n % 7}/{random.choice(['x', 'y', 'z'])}/{n % 300}"
        qos = random.choice([0, 0, 1, 1, 2])
        retain = n % 50 == 0
        payload = b"p" * random.choices(sizes, weights)[0] if not (retain and n % 100 == 0) else b""
        c.publish(topic, payload, qos=qos, retain=retain)
        bump("published")
        time.sleep(interval)
    c.disconnect()
    c.loop_stop()


def churn(port, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        cid = f"soak-churn-{seed}-{rng.randrange(20)}"
        clean = rng.random() < 0.5
        try:
            c = client(port, cid, clean=clean, will=rng.random() < 0.5)
            c.subscribe([(f"soak/t/{rng.randrange(7)}/#", rng.randrange(3)), ("soak/will/#", 1)])
            for _ in range(rng.randrange(5)):
                c.publish(f"soak/t/{rng.randrange(7)}/churn", b"c" * rng.randrange(2000), qos=rng.randrange(3))
                bump("published")
            time.sleep(rng.random() * 0.5)
            action = rng.random()
            if action < 0.4:
                c.disconnect()
            elif action < 0.7:
                c.socket().close()  # dropped without DISCONNECT: the will goes out
                bump("drops")
            else:
                twin = client(port, cid, clean=rng.random() < 0.5)  # takes the session over
                bump("takeovers")
                time.sleep(rng.random() * 0.3)
                twin.disconnect()
                twin.loop_stop()
            c.loop_stop()
        except (OSError, ValueError):
            time.sleep(0.2)  # refused or reset while the broker is busy: try again


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=1e9)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--rate", type=float, default=200, help="messages per second per publisher")
    ap.add_argument("--churners", type=int, default=4)
    args = ap.parse_args()
    stop = threading.Event()
    subs, last = steady_subscribers(args.port, stop)
    threads = [threading.Thread(target=publisher, args=(args.port, stop, args.rate), daemon=True)
               for _ in range(args.publishers)]
    threads += [threading.Thread(target=churn, args=(args.port, stop, i), daemon=True) for i in range(args.churners)]
    for t in threads:
        t.start()
    end = time.monotonic() + args.seconds
    status = 0
    while time.monotonic() < end:
        time.sleep(10)
        with lock:
            print("load: " + " ".join(f"{k}={v}" for k, v in counter.items()), flush=True)
        if time.monotonic() - last["t"] > 30:
            print("load: steady QoS 1/2 subscribers received nothing for 30 s", flush=True)
            status = 1
            break
    stop.set()
    for t in threads:
        t.join(5)
    for c in subs:
        c.disconnect()
        c.loop_stop()
    raise SystemExit(status)


if __name__ == "__main__":
    main()
