"""07: keepalive."""
import time

import pytest

import mqtt_raw as raw
from helpers import unique


def test_pingreq_pingresp(broker):
    c = raw.connected(broker.port, unique("ping"))
    for _ in range(3):
        c.send(raw.pingreq())
        r = c.expect(raw.PINGRESP)
        assert r.flags == 0 and r.body == b""


def test_silent_client_disconnected_after_1_5_keepalive(broker):
    c = raw.connected(broker.port, unique("silent"), keepalive=2)
    start = time.monotonic()
    # must not be closed before the keepalive period has passed...
    assert c.wait_closed(2.0) == "timeout"
    # ...and must be closed soon after 1.5 x keepalive (3 s); mosquitto 2.0.11 is coarse and
    # takes up to ~5 s, so "soon" is 1.5 x keepalive + 5 s
    assert c.wait_closed(6.0) == "closed"
    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed <= 8.0, elapsed


def test_pings_keep_connection_alive(broker):
    c = raw.connected(broker.port, unique("alive"), keepalive=1)
    end = time.monotonic() + 4.0
    while time.monotonic() < end:
        c.send(raw.pingreq())
        c.expect(raw.PINGRESP)
        time.sleep(0.5)
    c.send(raw.pingreq())
    c.expect(raw.PINGRESP)


def test_other_traffic_keeps_connection_alive(broker):
    c = raw.connected(broker.port, unique("busy"), keepalive=1)
    t = unique("busy")
    end = time.monotonic() + 4.0
    i = 0
    while time.monotonic() < end:
        i += 1
        c.do_publish(t, b"x", qos=1, mid=i)
        time.sleep(0.5)
    c.send(raw.pingreq())
    c.expect(raw.PINGRESP)


def test_keepalive_zero_never_times_out(broker):
    c = raw.connected(broker.port, unique("zero"), keepalive=0)
    assert c.wait_closed(4.0) == "timeout"
    c.send(raw.pingreq())
    c.expect(raw.PINGRESP)


@pytest.mark.ours_only  # Debian's mosquitto 2.0.11 accepts these; its documentation says otherwise
def test_keepalive_above_max_keepalive_refused(broker_factory):
    """The issue asks for max_keepalive to be enforced. 3.1.1 cannot tell a client to use a
    shorter keepalive, so a CONNECT above the maximum (or 0, i.e. none, while a maximum is set)
    is refused with CONNACK 2, as mosquitto.conf(5) describes for max_keepalive."""
    b = broker_factory(max_keepalive=10)
    for ka, rc in ((1, 0), (10, 0), (11, 2), (600, 2), (0, 2)):
        c = raw.RawClient(b.port)
        c.send(raw.connect(unique(f"ka{ka}"), keepalive=ka))
        assert c.expect(raw.CONNACK).rc == rc, ka
        if rc == 0:
            c.send(raw.pingreq())
            c.expect(raw.PINGRESP)
            c.do_disconnect()
        else:
            assert c.wait_closed(3) == "closed", ka


def test_keepalive_zero_accepted_without_max_keepalive(broker):
    c = raw.RawClient(broker.port)
    c.send(raw.connect(unique("ka0"), keepalive=0))
    assert c.expect(raw.CONNACK).rc == 0
    c.send(raw.pingreq())
    c.expect(raw.PINGRESP)
    c.do_disconnect()
