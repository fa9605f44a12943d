"""Authentication and authorization (issue 5): OAuth2 access tokens verified against a JWKS
served by the test on loopback, internal users with bcrypt, role ACLs with :id, reload."""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import mqtt_raw as raw
from conftest import BROKER_BIN, Broker, free_port
from helpers import MosquittoSub, PahoClient, bcrypt_hash, mosquitto_pub, unique

pytestmark = pytest.mark.ours_only

ISSUER_PATH = "/realms/devices"
AUDIENCE = "mqtt-broker"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(n: int) -> str:
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    """A signing key made by the test, with its public JWK."""

    def __init__(self, kind: str, kid: str):
        self.kind, self.kid = kind, kid
        if kind == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            numbers = self.private.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                        "n": b64u_int(numbers.n), "e": b64u_int(numbers.e)}
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            numbers = self.private.public_key().public_numbers()
            self.jwk = {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                        "x": b64u(numbers.x.to_bytes(32, "big")), "y": b64u(numbers.y.to_bytes(32, "big"))}

    def sign(self, claims: dict, header: dict | None = None) -> str:
        h = {"alg": self.kind, "typ": "JWT", "kid": self.kid, **(header or {})}
        signing_input = f"{b64u(json.dumps(h).encode())}.{b64u(json.dumps(claims).encode())}".encode()
        if self.kind == "RS256":
            sig = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input.decode()}.{b64u(sig)}"

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)


class Provider:
    """An OpenID provider on loopback: discovery document and JWKS, with failure modes."""

    def __init__(self):
        self.keys: list[Key] = []
        self.mode = "ok"  # ok | down | garbage | huge | slow
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                provider.requests += 1
                if self.path == ISSUER_PATH + "/.well-known/openid-configuration":
                    body = json.dumps({"issuer": provider.issuer,
                                       "jwks_uri": provider.jwks_url}).encode()
                elif self.path == ISSUER_PATH + "/certs":
                    if provider.mode == "down":
                        self.send_response(503)
                        self.end_headers()
                        return
                    if provider.mode == "slow":
                        time.sleep(8)
                    if provider.mode == "garbage":
                        body = b"<html>not json"
                    elif provider.mode == "huge":
                        body = b'{"keys":[' + b" " * (3 << 20) + b"]}"
                    else:
                        body = json.dumps({"keys": [k.jwk for k in provider.keys]}).encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.issuer = f"http://127.0.0.1:{port}{ISSUER_PATH}"
        self.jwks_url = f"{self.issuer}/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider():
    p = Provider()
    p.keys = [Key("RS256", "rsa-1"), Key("ES256", "ec-1")]
    yield p
    p.stop()


@pytest.fixture
def start_broker(tmp_path):
    """start(config: dict, shards=4) -> Broker, with the config written as JSON (valid YAML)."""
    started: list[Broker] = []

    def start(config: dict, shards: int = 4, legacy: bool = False) -> Broker:
        port = free_port()
        cfg = dict(config)
        if not legacy:
            cfg.setdefault("listeners", [{"protocol": "mqtt", "host": "127.0.0.1", "port": port}])
        path = tmp_path / f"auth{len(started)}.yaml"
        path.write_text(json.dumps(cfg, indent=1) + "\n")
        b = Broker("ours", port, [BROKER_BIN, "--port", str(port), "--shards", str(shards),
                                  "--config", str(path)], tmp_path, f"auth{len(started)}")
        b.config_path = path
        started.append(b)
        return b.start()

    yield start
    for b in started:
        b.stop()


def claims(sub: str = "dev1", roles=("device",), **extra) -> dict:
    now = int(time.time())
    c = {"sub": sub, "iss": None, "aud": [AUDIENCE, "account"], "typ": "Bearer",
         "exp": now + 300, "iat": now, "realm_access": {"roles": list(roles)}}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


ACL = [
    {"name": "device", "authorize_publish": ["devices/:id/#"],
     "authorize_subscribe": ["devices/:id/commands/#", "broadcast/+"]},
    {"name": "backend", "authorize_publish": ["#"], "authorize_subscribe": ["#"]},
]


def openid_config(provider: Provider, **extra) -> dict:
    cfg = {"issuer": provider.issuer, "audience": AUDIENCE, "roles_key": "realm_access.roles",
           "algorithms": ["RS256", "ES256"], "token_type": "Bearer"}
    cfg.update(extra)
    return cfg


def raw_connect(port: int, username=None, password=None, client_id=None) -> tuple[raw.RawClient, raw.Packet]:
    c = raw.RawClient(port)
    c.send(raw.connect(client_id or unique("raw"), username=username, password=password))
    return c, c.recv()


def connack_rc(port: int, username=None, password=None) -> int:
    c, p = raw_connect(port, username, password)
    c.close()
    assert p.name == "CONNACK", p
    return p.rc


def paho(port: int, username: str, password: str, client_id: str | None = None) -> PahoClient:
    c = PahoClient(port, client_id=client_id, connect=False)
    c.client.username_pw_set(username, password)
    return c.connect()


def token_for(provider: Provider, **kw) -> str:
    c = claims(**kw)
    c["iss"] = provider.issuer
    return provider.keys[0].sign(c)


# --- tokens ------------------------------------------------------------------------------------

def test_token_acl_with_id_and_nested_roles(provider, start_broker):
    """Discovery through the issuer, roles from realm_access.roles, :id = sub."""
    b = start_broker({"auth": {"openid": openid_config(provider)}, "acl": ACL})
    backend = paho(b.port, "oauth2", token_for(provider, sub="svc", roles=["backend"]))
    backend.subscribe("#")
    device = paho(b.port, "oauth2", token_for(provider, sub="dev1"))
    assert device.subscribe("devices/dev1/commands/#", qos=1) == [1]
    assert device.subscribe("devices/+/commands/#") == [0x80]
    assert device.subscribe("devices/dev1/#") == [0x80]
    assert device.subscribe("broadcast/#") == [0x80]
    device.publish("devices/dev2/telemetry", b"denied", qos=1)  # acknowledged, dropped
    device.publish("devices/dev1/telemetry", b"allowed", qos=1)
    m = backend.get()
    assert (m.topic, m.payload) == ("devices/dev1/telemetry", b"allowed")
    backend.expect_none(0.5)
    backend.publish("devices/dev1/commands/reboot", b"now", qos=1)
    backend.publish("devices/dev2/commands/reboot", b"other", qos=1)
    assert device.get().topic == "devices/dev1/commands/reboot"
    device.expect_none(0.5)
    backend.stop()
    device.stop()


def test_es256_token_with_mosquitto_clients(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider, jwks_url=provider.jwks_url)}, "acl": ACL})
    c = claims(sub="dev7")
    c["iss"] = provider.issuer
    token = provider.keys[1].sign(c)
    sub = MosquittoSub(b.port, ["devices/dev7/commands/#"], extra=["-u", "oauth2", "-P", token, "-v"])
    try:
        backend_token = token_for(provider, sub="svc", roles=["backend"])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            mosquitto_pub(b.port, "devices/dev7/commands/x", "hi", extra=["-u", "oauth2", "-P", backend_token])
            try:
                line = sub.lines.get(timeout=0.3)
                break
            except Exception:
                continue
        assert line == "devices/dev7/commands/x hi"
    finally:
        sub.stop()


BAD_TOKENS = [
    "alg_none", "hs256_public_key", "unknown_kid", "tampered", "expired", "not_yet_valid",
    "wrong_issuer", "wrong_audience", "missing_exp", "not_a_jwt", "64k_password", "id_token", "future_iat",
]


@pytest.mark.parametrize("case", BAD_TOKENS)
def test_bad_tokens_get_connack_4(provider, start_broker, case):
    b = start_broker({"auth": {"openid": openid_config(provider, leeway_seconds=5)}, "acl": ACL})
    key = provider.keys[0]
    now = int(time.time())
    good = claims()
    good["iss"] = provider.issuer
    assert connack_rc(b.port, "oauth2", key.sign(good)) == 0
    if case == "alg_none":
        h = b64u(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
        token = f"{h}.{b64u(json.dumps(good).encode())}."
    elif case == "hs256_public_key":
        h = b64u(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode())
        signing_input = f"{h}.{b64u(json.dumps(good).encode())}"
        mac = hmac.HMAC(key.public_pem(), hashes.SHA256())
        mac.update(signing_input.encode())
        token = f"{signing_input}.{b64u(mac.finalize())}"
    elif case == "unknown_kid":
        token = Key("RS256", "rsa-unknown").sign(good)
    elif case == "tampered":
        header, _, sig = key.sign(good).split(".")
        forged = dict(good, realm_access={"roles": ["backend"]})
        token = f"{header}.{b64u(json.dumps(forged).encode())}.{sig}"
    elif case == "expired":
        token = key.sign(dict(good, exp=now - 60))
    elif case == "not_yet_valid":
        token = key.sign(dict(good, nbf=now + 600))
    elif case == "future_iat":
        token = key.sign(dict(good, iat=now + 600))
    elif case == "wrong_issuer":
        token = key.sign(dict(good, iss="http://evil.example/realms/devices"))
    elif case == "wrong_audience":
        token = key.sign(dict(good, aud="account"))
    elif case == "missing_exp":
        token = key.sign({k: v for k, v in good.items() if k != "exp"})
    elif case == "not_a_jwt":
        token = "this.is-not.a-jwt"
    elif case == "64k_password":
        token = "x" * 65535
    elif case == "id_token":
        token = key.sign(dict(good, typ="ID"))
    assert connack_rc(b.port, "oauth2", token) == 4
    assert b.running()


def test_subject_with_wildcards_never_matches_id(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider)}, "acl": ACL})
    for subject in ["dev+", "#", "a/b"]:
        c, p = raw_connect(b.port, "oauth2", token_for(provider, sub=subject), client_id=unique("x/#+"))
        assert p.rc == 0
        c.send(raw.subscribe(1, [("devices/+/commands/#", 0), ("devices/#", 0), ("broadcast/x", 0)]))
        assert c.recv().codes == [0x80, 0x80, 0]
        c.send(raw.publish("devices/a/b/x", b"no", qos=1, mid=2))
        assert c.recv().name == "PUBACK"
        c.close()


def test_token_expiry_closes_the_connection(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider, leeway_seconds=0)}, "acl": ACL})
    c, p = raw_connect(b.port, "oauth2", token_for(provider, exp=int(time.time()) + 2))
    assert p.rc == 0
    with pytest.raises(raw.Closed):
        c.recv(timeout=6)


def test_key_rotation_picked_up_without_restart(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider, jwks_url=provider.jwks_url)}, "acl": ACL})
    assert connack_rc(b.port, "oauth2", token_for(provider)) == 0
    new = Key("RS256", "rsa-2")
    c = claims()
    c["iss"] = provider.issuer
    provider.keys.append(new)
    deadline = time.monotonic() + 15
    while connack_rc(b.port, "oauth2", new.sign(c)) != 0:
        assert time.monotonic() < deadline, "new kid not picked up"
        time.sleep(0.5)


def test_jwks_down_at_start_then_up(provider, start_broker):
    provider.mode = "down"
    b = start_broker({"auth": {"openid": openid_config(provider, jwks_url=provider.jwks_url)}, "acl": ACL})
    assert connack_rc(b.port, "oauth2", token_for(provider)) == 4
    provider.mode = "ok"
    deadline = time.monotonic() + 15
    while connack_rc(b.port, "oauth2", token_for(provider)) != 0:
        assert time.monotonic() < deadline, "JWKS not fetched once the provider came up"
        time.sleep(0.5)
    assert "JWKS fetch failed" in b.stderr_tail(200)


@pytest.mark.parametrize("mode", ["garbage", "huge", "slow", "down"])
def test_bad_jwks_responses_keep_the_last_good_keys(provider, start_broker, mode):
    b = start_broker({"auth": {"openid": openid_config(provider, jwks_url=provider.jwks_url,
                                                       jwks_refresh_seconds=1)}, "acl": ACL})
    assert connack_rc(b.port, "oauth2", token_for(provider)) == 0
    provider.mode = mode
    seen = provider.requests
    deadline = time.monotonic() + 10
    while provider.requests < seen + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    t0 = time.monotonic()
    assert connack_rc(b.port, "oauth2", token_for(provider)) == 0
    assert time.monotonic() - t0 < 2, "a known key must not wait for a fetch"
    deadline = time.monotonic() + 10
    while "JWKS fetch failed" not in b.stderr_tail(400):
        assert time.monotonic() < deadline
        time.sleep(0.2)


# --- internal users ----------------------------------------------------------------------------

def test_old_layout_internal_users(start_broker):
    """The aedes layout: config.internal_users (role = username) and config.acl."""
    cfg = {"config": {
        "internal_users": [{"username": "backend", "password": bcrypt_hash("backend-secret")},
                           {"username": "other", "password": bcrypt_hash("other-secret")}],
        "acl": [{"name": "backend", "authorize_publish": ["#"], "authorize_subscribe": ["#"]},
                {"name": "other", "authorize_publish": ["other/#"], "authorize_subscribe": ["other/#"]}],
    }}
    b = start_broker(cfg, legacy=True)
    assert connack_rc(b.port, "backend", "backend-secret") == 0
    assert connack_rc(b.port, "backend", "other-secret") == 4   # another user's password
    assert connack_rc(b.port, "nobody", "backend-secret") == 4  # unknown user
    assert connack_rc(b.port, "backend", "") == 4               # empty password
    assert connack_rc(b.port, "Backend", "backend-secret") == 4  # exact match only
    assert connack_rc(b.port, "backend", "x" * 65535) == 4
    # Anonymous clients (allowed by default) have the role "anonymous": no rule, nothing allowed.
    anonymous, p = raw_connect(b.port)
    assert p.rc == 0
    anonymous.send(raw.subscribe(1, [("#", 0)]))
    assert anonymous.recv().codes == [0x80]
    anonymous.close()
    sub = MosquittoSub(b.port, ["other/#"], extra=["-u", "other", "-P", "other-secret", "-v"])
    try:
        deadline = time.monotonic() + 5
        line = None
        while time.monotonic() < deadline and line is None:
            mosquitto_pub(b.port, "other/x", "hello", extra=["-u", "backend", "-P", "backend-secret"])
            try:
                line = sub.lines.get(timeout=0.3)
            except Exception:
                pass
        assert line == "other/x hello"
    finally:
        sub.stop()


def test_anonymous_refused_with_connack_5(start_broker):
    b = start_broker({"allow_anonymous": False,
                      "auth": {"internal_users": [{"username": "u", "password": bcrypt_hash("p")}]}})
    assert connack_rc(b.port) == 5
    assert connack_rc(b.port, "u", "p") == 0
    assert connack_rc(b.port, "u", "q") == 4


def test_packets_pipelined_behind_connect_wait_for_the_verdict(start_broker):
    b = start_broker({"auth": {"internal_users": [{"username": "u", "password": bcrypt_hash("p"),
                                                   "roles": ["backend"]}]}, "acl": ACL})
    c = raw.RawClient(b.port)
    c.send(raw.connect(unique("pipe"), username="u", password="p") + raw.subscribe(1, [("echo/#", 1)])
           + raw.publish("echo/1", b"x", qos=1, mid=7))
    got = [c.recv() for _ in range(4)]
    names = [p.name for p in got]
    assert names[:2] == ["CONNACK", "SUBACK"], got
    assert sorted(names[2:]) == ["PUBACK", "PUBLISH"], got
    c.close()


def test_disconnect_on_denied_publish(start_broker):
    b = start_broker({"auth": {"internal_users": [{"username": "dev1", "password": bcrypt_hash("p"),
                                                   "roles": ["device"]}],
                               "disconnect_on_denied_publish": True}, "acl": ACL})
    c, p = raw_connect(b.port, "dev1", "p")
    assert p.rc == 0
    c.send(raw.publish("devices/dev1/t", b"ok", qos=1, mid=1))
    assert c.recv().name == "PUBACK"
    c.send(raw.publish("devices/dev2/t", b"no", qos=1, mid=2))
    with pytest.raises(raw.Closed):
        c.recv(timeout=3)


def test_sighup_reloads_users_and_acl(start_broker):
    users = [{"username": "a", "password": bcrypt_hash("pa"), "roles": ["device"]}]
    cfg = {"auth": {"internal_users": users}, "acl": ACL}
    b = start_broker(cfg)
    kept, p = raw_connect(b.port, "a", "pa")
    assert p.rc == 0
    assert connack_rc(b.port, "b", "pb") == 4
    cfg["auth"]["internal_users"] = users + [{"username": "b", "password": bcrypt_hash("pb"), "roles": ["backend"]}]
    cfg["listeners"] = [{"protocol": "mqtt", "host": "127.0.0.1", "port": b.port}]
    b.config_path.write_text(json.dumps(cfg))
    b.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while connack_rc(b.port, "b", "pb") != 0:
        assert time.monotonic() < deadline, "reload did not add the user"
        time.sleep(0.2)
    kept.send(raw.pingreq())
    assert kept.recv().name == "PINGRESP"  # connections survive the reload
    kept.close()
    assert b.running()


def test_passwd_subcommand_prints_a_bcrypt_hash():
    assert bcrypt_hash("s3cret").startswith("$2b$04$")


def test_wildcards_in_username_or_client_id_do_not_widen_the_acl(start_broker):
    """Issue 8: `+`/`#` in a username (which feeds `:id`) or a client id must not widen an ACL."""
    users = [{"username": name, "password": bcrypt_hash("p"), "roles": ["device"]} for name in ("+", "dev1")]
    b = start_broker({"auth": {"internal_users": users}, "acl": ACL})
    # "+" as :id would turn devices/:id/commands/# into every device's commands: it matches nothing.
    plus, p = raw_connect(b.port, "+", "p")
    assert p.rc == 0
    plus.send(raw.subscribe(1, [("devices/+/commands/#", 0), ("devices/dev1/commands/#", 0), ("broadcast/x", 0)]))
    assert plus.recv().codes == [0x80, 0x80, 0]
    plus.close()
    # A wildcard client id changes nothing: the ACL follows the login, not the client id.
    dev, p = raw_connect(b.port, "dev1", "p", client_id="#+")
    assert p.rc == 0
    dev.send(raw.subscribe(2, [("devices/dev1/commands/#", 1), ("devices/+/commands/#", 1), ("#", 0)]))
    assert dev.recv().codes == [1, 0x80, 0x80]
    dev.close()


def test_sys_subscription_refused_without_a_rule(start_broker):
    b = start_broker({"auth": {"internal_users": [{"username": "dev1", "password": bcrypt_hash("p"),
                                                   "roles": ["device"]}]}, "acl": ACL, "sys_interval_seconds": 1})
    c, p = raw_connect(b.port, "dev1", "p")
    assert p.rc == 0
    c.send(raw.subscribe(1, [("$SYS/#", 0), ("$SYS/broker/uptime", 0)]))
    assert c.recv().codes == [0x80, 0x80]
    c.expect_nothing(1.5)  # no $SYS message reaches it, although $SYS is published every second
    c.close()


def test_refusals_are_counted_in_sys(start_broker):
    """What the authenticator and the ACL refused is counted in $SYS (not in Mosquitto)."""
    acl = ACL + [{"name": "monitor", "authorize_subscribe": ["$SYS/#"]}]
    users = [{"username": "dev1", "password": bcrypt_hash("p"), "roles": ["device"]},
             {"username": "mon", "password": bcrypt_hash("m"), "roles": ["monitor"]}]
    b = start_broker({"auth": {"internal_users": users}, "acl": acl, "sys_interval_seconds": 1})
    assert connack_rc(b.port, "dev1", "wrong") == 4
    assert connack_rc(b.port, "nobody", "x") == 4
    dev, p = raw_connect(b.port, "dev1", "p")
    assert p.rc == 0
    dev.send(raw.publish("devices/dev2/t", b"no", qos=1, mid=1))
    assert dev.recv().name == "PUBACK"  # acknowledged and dropped, as Mosquitto does
    dev.send(raw.subscribe(2, [("devices/+/commands/#", 0), ("broadcast/x", 0)]))
    assert dev.recv().codes == [0x80, 0]
    dev.close()
    expected = {"$SYS/broker/authentication/failures": b"2", "$SYS/broker/publish/messages/denied": b"1",
                "$SYS/broker/subscriptions/denied": b"1", "$SYS/broker/bridge/failures": b"0"}
    mon, p = raw_connect(b.port, "mon", "m")
    assert p.rc == 0
    mon.send(raw.subscribe(1, [(topic, 0) for topic in expected]))
    assert mon.recv().codes == [0, 0, 0, 0]
    seen: dict[str, bytes] = {}
    deadline = time.monotonic() + 8
    while seen != expected and time.monotonic() < deadline:
        try:
            packet = mon.recv(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        if packet.name == "PUBLISH":
            seen[packet.topic] = packet.payload
    assert seen == expected
    mon.close()


# --- MQTT 5: the token as Authentication Data, renewed with AUTH ---------------------------------

import mqtt5_raw as m5  # noqa: E402


def connect_with_token_method(port: int, token: str, client_id: str | None = None) -> m5.RawClient5:
    c = m5.RawClient5(port)
    c.do_connect5(client_id or unique("jwt5"), properties={
        m5.AUTHENTICATION_METHOD: "OAUTH2-JWT", m5.AUTHENTICATION_DATA: token.encode()})
    return c


def reauthenticate(c: m5.RawClient5, token: str) -> None:
    c.send(m5.auth5(m5.REAUTHENTICATE, {m5.AUTHENTICATION_METHOD: "OAUTH2-JWT",
                                        m5.AUTHENTICATION_DATA: token.encode()}))


def test_v5_token_as_authentication_data_and_renewal_without_reconnecting(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider, leeway_seconds=0)}, "acl": ACL})
    c = connect_with_token_method(b.port, token_for(provider, sub="dev5", exp=int(time.time()) + 3))
    assert c.connack.props.get(m5.AUTHENTICATION_METHOD) == "OAUTH2-JWT", c.connack
    # The ACL is the token's: :id is its subject.
    c.do_publish5("devices/dev5/up", b"1", qos=1, mid=1, expect_reason=0x00)
    c.do_publish5("devices/other/up", b"1", qos=1, mid=2, expect_reason=m5.NOT_AUTHORIZED)
    # A fresh token before the first one expires: AUTH 0x00 and the connection outlives the old expiry.
    reauthenticate(c, token_for(provider, sub="dev5", exp=int(time.time()) + 60))
    ack = c.expect(m5.AUTH)
    assert ack.reason == 0x00 and ack.props.get(m5.AUTHENTICATION_METHOD) == "OAUTH2-JWT", ack
    time.sleep(4)
    c.do_publish5("devices/dev5/up", b"2", qos=1, mid=3, expect_reason=0x00)
    c.close()


def test_v5_renewal_replaces_permissions(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider)}, "acl": ACL})
    c = connect_with_token_method(b.port, token_for(provider, sub="dev6"))
    c.do_publish5("backend/jobs", b"x", qos=1, mid=1, expect_reason=m5.NOT_AUTHORIZED)
    reauthenticate(c, token_for(provider, sub="dev6", roles=("backend",)))
    assert c.expect(m5.AUTH).reason == 0x00
    c.do_publish5("backend/jobs", b"x", qos=1, mid=2, expect_reason=0x00)
    c.close()


def test_v5_refused_renewal_disconnects_with_0x87(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider)}, "acl": ACL})
    c = connect_with_token_method(b.port, token_for(provider, sub="dev7"))
    reauthenticate(c, "not.a.token")
    c.expect_disconnect(m5.NOT_AUTHORIZED)


def test_v5_token_expiry_mid_session_disconnects_with_0x87(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider, leeway_seconds=0)}, "acl": ACL})
    c = m5.connected5(b.port, unique("exp5"), username="oauth2",
                      password=token_for(provider, exp=int(time.time()) + 2))
    c.expect_disconnect(m5.NOT_AUTHORIZED, timeout=6)


def test_v5_bad_token_as_authentication_data_is_refused(provider, start_broker):
    b = start_broker({"auth": {"openid": openid_config(provider)}, "acl": ACL})
    c = m5.RawClient5(b.port)
    c.send(m5.connect5(unique("bad5"), properties={m5.AUTHENTICATION_METHOD: "OAUTH2-JWT",
                                                   m5.AUTHENTICATION_DATA: b"garbage"}))
    ack = c.expect(m5.CONNACK)
    assert ack.reason == m5.BAD_USER_NAME_OR_PASSWORD, ack


def test_authentication_figures_in_metrics(provider, start_broker):
    """Verdicts by method and outcome, their latency and the JWKS fetches reach /metrics."""
    import subprocess

    from test_22_metrics import PROMTOOL, get, samples
    metrics_port = free_port()
    b = start_broker({"auth": {"openid": openid_config(provider), "internal_users": [
        {"username": "alice", "password": bcrypt_hash("s3cret"), "roles": ["backend"]}]}, "acl": ACL,
        "metrics": {"host": "127.0.0.1", "port": metrics_port}})
    assert connack_rc(b.port, "alice", "s3cret") == 0
    assert connack_rc(b.port, "alice", "wrong") == 4
    assert connack_rc(b.port, "oauth2", token_for(provider)) == 0
    assert connack_rc(b.port, "oauth2", "not-a-token") == 4
    status, text = get(metrics_port, "/metrics")
    assert status == 200
    values = samples(text)
    for method, outcome, count in (("password", "allowed", 1), ("password", "denied", 1), ("token", "allowed", 1),
                                   ("token", "denied", 1), ("anonymous", "allowed", 0)):
        key = f'mqtt_authentications_total{{method="{method}",outcome="{outcome}"}}'
        assert values[key] == count, (key, values.get(key))
    assert values["mqtt_authentication_seconds_count"] == 4
    assert values['mqtt_jwks_fetches_total{outcome="ok"}'] >= 1
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
