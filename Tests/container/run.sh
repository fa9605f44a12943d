#!/usr/bin/env bash
# Checks the container image (deploy/container/Dockerfile) on this machine, with podman:
#   1. a debian:12-slim base made with debootstrap from Debian's mirror (Docker Hub is not
#      needed), tagged so that the Dockerfile's FROM finds it without pulling;
#   2. the runtime stage built from the Dockerfile as it is, with BINARY_STAGE=prebuilt: the
#      binary is this tree's release build with --static-swift-stdlib (what the build stage
#      makes in the official Swift image, which is not used here);
#   3. the image run: non-root user, every shared library found, MQTT and MQTT over
#      WebSocket through the published ports, /healthz and /readyz, the HEALTHCHECK passing,
#      the compose file's broker configuration accepted, SIGTERM stopping it at once.
# Needs root (or rootless podman), podman, debootstrap and network access to deb.debian.org;
# .ci/install-deps --test installs the packages. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

image=localhost/mqtt-broker-test:latest
base=docker.io/library/debian:12-slim
work="$(mktemp -d)"
container=""
cleanup() {
    [[ -n "$container" ]] && podman rm -f "$container" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "container test FAILED: $*" >&2; exit 1; }

# (--format docker below: the OCI image format has no HEALTHCHECK.)
# Podman's defaults assume a host it may raise limits on and a pure cgroup v1 or v2 hierarchy.
# Machines like this one (cgroups v1 with an empty v2 mount, no CAP_SYS_RESOURCE) refuse both:
# crun stops at the hybrid hierarchy and either runtime at raising RLIMIT_NOFILE/NPROC. So the
# containers get runc and limits no higher than this shell's; the image itself is unchanged.
# Without systemd, podman logs that it cannot schedule health checks: its errors go to files
# shown only on failure (the test runs the health check itself).
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"

echo "--- static release binary"
swift build -c release --static-swift-stdlib --scratch-path .build-static --product mqtt-broker 2>&1 | tail -1
install -m 755 .build-static/release/mqtt-broker deploy/container/prebuilt/mqtt-broker

if ! podman image exists "$base"; then
    echo "--- $base from debootstrap (minbase bookworm)"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
    tar -C "$work/rootfs" -c . | podman import --change 'CMD ["bash"]' - "$base" >/dev/null
    rm -rf "$work/rootfs"
fi

echo "--- runtime stage (podman build --build-arg BINARY_STAGE=prebuilt)"
podman build --format docker --pull=never --build-arg BINARY_STAGE=prebuilt --target runtime -f deploy/container/Dockerfile \
    -t "$image" . >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "podman build"; }

user="$(podman image inspect "$image" --format '{{.Config.User}}')"
[[ "$user" == "mqtt-broker" ]] || fail "image user is '$user', not mqtt-broker"
missing="$(podman run --rm --entrypoint ldd "$image" /usr/local/bin/mqtt-broker | grep 'not found' || true)"
[[ -z "$missing" ]] || fail "libraries missing in the image: $missing"
uid="$(podman run --rm --entrypoint id "$image" -u)"
[[ "$uid" != "0" ]] || fail "runs as root"

echo "--- running the image"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mqtt_port="$(free_port)"; ws_port="$(free_port)"; metrics_port="$(free_port)"
container="$(podman run -d -p "127.0.0.1:$mqtt_port:1883" -p "127.0.0.1:$ws_port:8080" -p "127.0.0.1:$metrics_port:9100" "$image" 2>"$work/run.err")" \
    || { cat "$work/run.err"; fail "podman run"; }
for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$metrics_port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
[[ "$(curl -fsS "http://127.0.0.1:$metrics_port/healthz")" == '{"status":"ok"}' ]] || fail "/healthz"
curl -fsS "http://127.0.0.1:$metrics_port/readyz" | grep -q '"ready":true' || fail "/readyz"
podman healthcheck run "$container" || fail "HEALTHCHECK"

roundtrip() { # transport port
    local topic="container/$1" got
    mosquitto_sub -h 127.0.0.1 -p "$2" -t "$topic" -C 1 -W 10 >"$work/got.$1" &
    local sub=$!
    sleep 0.5
    mosquitto_pub -h 127.0.0.1 -p "$2" -t "$topic" -q 1 -m "over $1"
    wait "$sub" || fail "no message over $1"
    got="$(cat "$work/got.$1")"
    [[ "$got" == "over $1" ]] || fail "$1 delivered '$got'"
}
roundtrip mqtt "$mqtt_port"
# mosquitto_pub/sub speak MQTT over WebSocket only with libwebsockets builds; Debian's do not.
.venv/bin/python - "$ws_port" <<'PY' || fail "MQTT over WebSocket"
import sys
sys.path.insert(0, "Tests/integration")
from helpers import PahoClient
port = int(sys.argv[1])
def path(client):
    client.ws_set_options(path="/")
subscriber = PahoClient(port, transport="websockets", setup=path)
subscriber.subscribe("container/ws", qos=1)
publisher = PahoClient(port, transport="websockets", setup=path)
publisher.publish("container/ws", b"over ws", qos=1)
assert subscriber.get(timeout=10).payload == b"over ws"
publisher.stop()
subscriber.stop()
PY
curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -q '^mqtt_connections{listener="ws://0.0.0.0:8080",transport="ws"} ' \
    || fail "/metrics without the ws listener's connections"

started=$(date +%s)
podman stop -t 20 "$container" >/dev/null
[[ $(( $(date +%s) - started )) -lt 10 ]] || fail "SIGTERM took $(( $(date +%s) - started )) s"
[[ "$(podman inspect "$container" --format '{{.State.ExitCode}}')" == "0" ]] || fail "exit status after SIGTERM"
podman logs "$container" 2>&1 | head -3 | grep -q '"message"' || fail "log lines are not JSON"
echo "--- the compose file's broker configuration, MongoDB and Kafka not there"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$work/server.key" -out "$work/server.crt" >/dev/null 2>&1
chmod 755 "$work"
chmod 644 "$work/server.key"
compose_run=(-e "MONGO_URL=mongodb://127.0.0.1:9/mqtt?replicaSet=rs0&serverSelectionTimeoutMS=500" -e KAFKA_BROKERS=127.0.0.1:9
    -v "$PWD/deploy/container/compose-config.yaml:/etc/mqtt-broker/config.yaml:ro" -v "$work:/etc/mqtt-broker/tls:ro")
podman run --rm "${compose_run[@]}" "$image" --config /etc/mqtt-broker/config.yaml --check 2>"$work/check.err" \
    | grep -qx "config OK" || { cat "$work/check.err"; fail "--check refused compose-config.yaml"; }
wss_port="$(free_port)"; metrics_port="$(free_port)"
container="$(podman run -d "${compose_run[@]}" -p "127.0.0.1:$wss_port:8443" -p "127.0.0.1:$metrics_port:9100" "$image" \
    2>"$work/run.err")" || { cat "$work/run.err"; fail "podman run with compose-config.yaml"; }
for _ in $(seq 1 50); do
    curl -sS -o /dev/null "http://127.0.0.1:$metrics_port/readyz" 2>/dev/null && break
    sleep 0.2
done
# Starts and serves; not ready while MongoDB and Kafka are unreachable, and says so.
readiness="$(curl -sS -w ' %{http_code}' "http://127.0.0.1:$metrics_port/readyz")"
[[ "$readiness" == *"MongoDB unreachable"*"Kafka unreachable"*" 503" ]] || fail "/readyz said: $readiness"
podman healthcheck run "$container" || fail "HEALTHCHECK with MongoDB down"
# wss with the mounted certificate (as the old deployment on 443, published here on a free port).
.venv/bin/python - "$wss_port" "$work/server.crt" <<'PY' || fail "MQTT over WebSocket over TLS"
import sys
sys.path.insert(0, "Tests/integration")
from helpers import PahoClient
port, ca = int(sys.argv[1]), sys.argv[2]
def tls(client):
    client.tls_set(ca_certs=ca)
    client.ws_set_options(path="/")
client = PahoClient(port, transport="websockets", setup=tls, host="localhost")
client.subscribe("container/wss", qos=0)
client.publish("container/wss", b"over wss", qos=0)
assert client.get(timeout=10).payload == b"over wss"
client.stop()
PY
podman rm -f "$container" >/dev/null 2>&1
container=""
echo "container test passed"
