#!/usr/bin/env python3
"""Mixed MQTT traffic with reconnect churn, for Benchmarks/soak.sh (paho-mqtt, MQTT 3.1.1).

Runs until killed or for --seconds:
  - steady subscribers (clean and persistent, QoS 0/1/2, wildcards) that stay connected;
  - publishers sending QoS 0/1/2 messages of 10 B to 64 KiB to a few hundred topics, some
    retained (and cleared again), at a bounded rate;
  - churn: clients that connect, subscribe, publish, then disconnect cleanly, drop the socket
    (with a will), or are taken over by a second client with the same id; persistent sessions
    go offline while messages are queued for them and come back later.
  - the ledger: two publishers send numbered QoS 1 and QoS 2 messages to persistent
    subscribers that are taken over by a new connection with the same id, or dropped and
    reconnected after a pause, every few seconds; at the end every number the broker
    acknowledged to its publisher (PUBACK, PUBREC) must have reached the subscriber.
  - --tls-port: some churn clients connect over TLS, as the internal user --user/--password.
Prints a line of counters every 10 s. Exits non-zero if a steady QoS 1/2 subscriber stops
receiving or the ledger misses an acknowledged message.
"""
import argparse
import ssl
import itertools
import random
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

counter = {"published": 0, "received": 0, "connects": 0, "drops": 0, "takeovers": 0, "tls_connects": 0}
lock = threading.Lock()


def bump(key, n=1):
    with lock:
        counter[key] += n


def client(port, cid, clean=True, will=False, on_message=None, tls=None):
    """tls: (username, password) to connect over TLS (certificate not verified: self-signed)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean, protocol=mqtt.MQTTv311)
    if tls:
        c.tls_set(cert_reqs=ssl.CERT_NONE)
        c.tls_insecure_set(True)
        c.username_pw_set(*tls)
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


def churn(port, stop, seed, tls_port=None, credentials=None):
    rng = random.Random(seed)
    while not stop.is_set():
        cid = f"soak-churn-{seed}-{rng.randrange(20)}"
        clean = rng.random() < 0.5
        over_tls = tls_port is not None and rng.random() < 0.25
        try:
            if over_tls:
                bump("tls_connects")
                c = client(tls_port, cid, clean=clean, will=rng.random() < 0.5, tls=credentials)
            else:
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


class Ledger:
    """Numbered QoS 1 or 2 messages from one publisher to one persistent subscriber whose
    connection is taken over or dropped every few seconds. `acked` holds the numbers the broker
    acknowledged to the publisher, `received` those any incarnation of the subscriber got."""

    def __init__(self, port, qos, stop):
        self.port, self.qos, self.stop = port, qos, stop
        self.topic = f"soak/ledger/q{qos}"
        self.sub_id = f"soak-ledger-sub-q{qos}"
        self.acked, self.received, self.pending, self.early = set(), set(), {}, set()
        self.lock = threading.Lock()
        self.incarnations = 0
        self.events = []  # (monotonic time, what happened to the subscriber), for a loss report
        self.published_at = {}

    def on_message(self, c, u, m):
        with self.lock:
            self.received.add(int(m.payload))

    def connect_subscriber(self):
        c = client(self.port, self.sub_id, clean=False, on_message=self.on_message)
        if self.qos == 2:
            # paho answers a QoS 2 PUBLISH with PUBREC at once but calls on_message only at the
            # PUBREL; from the PUBREC on the message is the client's (a new connection gets only
            # the PUBREL), so it counts as received there.
            handle_publish = c._handle_publish

            def recording_handle_publish():
                rc = handle_publish()
                with self.lock:
                    for m in c._in_messages.values():
                        self.received.add(int(m.payload))
                return rc
            c._handle_publish = recording_handle_publish
        subscribed = threading.Event()
        c.on_subscribe = lambda *a: subscribed.set()
        c.subscribe(self.topic, self.qos)
        subscribed.wait(10)
        self.incarnations += 1
        return c

    def on_publish(self, c, u, mid, reason_code, properties):
        with self.lock:
            n = self.pending.pop(mid, None)
            if n is None:
                self.early.add(mid)  # acknowledged before publish_loop recorded the mid
            else:
                self.acked.add(n)

    def publish_loop(self, rate, subscribed):
        subscribed.wait()  # number 0 must find the persistent subscription
        c = client(self.port, f"soak-ledger-pub-q{self.qos}")
        c.on_publish = self.on_publish
        for n in itertools.count():
            if self.stop.is_set():
                break
            # Not under self.lock: paho's thread holds its own locks while it calls on_publish.
            info = c.publish(self.topic, str(n).encode(), qos=self.qos)
            with self.lock:
                self.published_at[n] = time.monotonic()
                if info.mid in self.early:
                    self.early.remove(info.mid)
                    self.acked.add(n)
                else:
                    self.pending[info.mid] = n
            time.sleep(1.0 / rate)
        time.sleep(2)  # the last acknowledgements
        c.disconnect()
        c.loop_stop()

    def subscriber_loop(self, rng, subscribed):
        current = self.connect_subscriber()
        subscribed.set()
        while not self.stop.wait(rng.uniform(2, 8)):
            if rng.random() < 0.5:
                # Taken over: a second connection with the same id, the first one left open
                # until the broker closes it.
                self.events.append((time.monotonic(), "takeover"))
                old, current = current, self.connect_subscriber()
                time.sleep(0.5)
                old.loop_stop()
                bump("takeovers")
            else:
                # Dropped: messages queue for the offline session until it comes back.
                self.events.append((time.monotonic(), "drop"))
                current.socket().close()
                current.loop_stop()
                bump("drops")
                time.sleep(rng.uniform(0.2, 3))
                self.events.append((time.monotonic(), "reconnect"))
                current = self.connect_subscriber()
        self.final = current

    def describe(self, n):
        """When number n was published, relative to the subscriber's takeovers and drops."""
        t = self.published_at.get(n)
        if t is None:
            return f"{n}: ?"
        near = [f"{what} {at - t:+.2f}s" for at, what in self.events if abs(at - t) < 5]
        return f"{n}: " + (", ".join(near) or "no subscriber event within 5 s")

    def missing(self):
        with self.lock:
            return sorted(self.acked - self.received)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=1e9)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--rate", type=float, default=200, help="messages per second per publisher")
    ap.add_argument("--churners", type=int, default=4)
    ap.add_argument("--ledger-rate", type=float, default=50, help="numbered messages per second per ledger")
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--user", default="soak")
    ap.add_argument("--password", default="soak")
    args = ap.parse_args()
    stop = threading.Event()
    subs, last = steady_subscribers(args.port, stop)
    threads = [threading.Thread(target=publisher, args=(args.port, stop, args.rate), daemon=True)
               for _ in range(args.publishers)]
    credentials = (args.user, args.password)
    threads += [threading.Thread(target=churn, args=(args.port, stop, i, args.tls_port, credentials), daemon=True)
                for i in range(args.churners)]
    ledger_stop = threading.Event()
    ledgers = [Ledger(args.port, qos, ledger_stop) for qos in (1, 2)]
    ready = [threading.Event() for _ in ledgers]
    ledger_threads = [threading.Thread(target=l.publish_loop, args=(args.ledger_rate, r), daemon=True)
                      for l, r in zip(ledgers, ready)]
    ledger_threads += [threading.Thread(target=l.subscriber_loop, args=(random.Random(l.qos), r), daemon=True)
                       for l, r in zip(ledgers, ready)]
    for t in threads + ledger_threads:
        t.start()
    end = time.monotonic() + args.seconds
    status = 0
    while time.monotonic() < end:
        time.sleep(10)
        with lock:
            print("load: " + " ".join(f"{k}={v}" for k, v in counter.items())
                  + "".join(f" ledger_q{l.qos}={len(l.received)}/{len(l.acked)}" for l in ledgers), flush=True)
        if time.monotonic() - last["t"] > 30:
            print("load: steady QoS 1/2 subscribers received nothing for 30 s", flush=True)
            status = 1
            break
    stop.set()
    ledger_stop.set()
    for t in threads + ledger_threads:
        t.join(10)
    # The last subscriber stays connected until everything acknowledged has arrived (or 60 s).
    deadline = time.monotonic() + 60
    while any(l.missing() for l in ledgers) and time.monotonic() < deadline:
        time.sleep(1)
    for l in ledgers:
        missing = l.missing()
        print(f"ledger: QoS {l.qos}: {len(l.acked)} acknowledged to the publisher, {len(l.received)} received "
              f"across {l.incarnations} subscriber connections, {len(missing)} missing"
              + (f" (first: {missing[:20]})" if missing else ""), flush=True)
        if missing:
            status = 1
            for n in missing[:5]:
                print(f"ledger:   {l.describe(n)}", flush=True)
        final = getattr(l, "final", None)
        if final:
            final.disconnect()
            final.loop_stop()
    for c in subs:
        c.disconnect()
        c.loop_stop()
    raise SystemExit(status)


if __name__ == "__main__":
    main()
