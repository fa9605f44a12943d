#!/usr/bin/env bash
# Soak test (not in CI): mixed traffic with reconnect churn, takeovers and a SIGHUP reload every
# SOAK_RELOAD_SECONDS against `mqtt-broker` with 2 shards, an mqtt and an mqtts listener and an
# internal user (config written to a temporary directory), printing the broker's RSS every
# minute. Fails when the broker dies, the load generator sees a steady subscriber starve, the
# ledger (numbered QoS 1 and 2 messages to persistent subscribers that are taken over and
# dropped) misses a message the broker acknowledged, or RSS is still growing at the end: the
# last sample may exceed the sample taken after the warm-up (a third of the run) by at most
# SOAK_RSS_GROWTH_MB.
#
#   Benchmarks/soak.sh                      # 30 minutes
#   SOAK_MINUTES=60 Benchmarks/soak.sh
# Settings: SOAK_MINUTES (30), SOAK_RSS_GROWTH_MB (32), SOAK_PUBLISHERS (4), SOAK_RATE (200 msg/s
# each), SOAK_CHURNERS (4), SOAK_LEDGER_RATE (50 msg/s per ledger), SOAK_RELOAD_SECONDS (60),
# BROKER_BIN (.build/release/mqtt-broker, built if missing), SOAK_PORT (the mqtts port is +1).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${SOAK_MINUTES:-30}"
growth_mb="${SOAK_RSS_GROWTH_MB:-32}"
port="${SOAK_PORT:-$((20000 + RANDOM % 20000))}"
bin="${BROKER_BIN:-.build/release/mqtt-broker}"
export SWIFT_BACKTRACE=enable=no

if [[ ! -x "$bin" ]]; then swift build -c release --product mqtt-broker; fi
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check -r Tests/integration/requirements.txt

dir="$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")"
log="$dir/broker.log"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
hash="$(printf soak | "$bin" passwd --cost 4)"
cat >"$dir/config.yaml" <<YAML
listeners:
  - {protocol: mqtt, host: 127.0.0.1, port: $port}
  - {protocol: mqtts, host: 127.0.0.1, port: $((port + 1)), tls: {cert: $dir/server.crt, key: $dir/server.key}}
shards: 2
allow_anonymous: true
auth:
  internal_users:
    - {username: soak, password: "$hash"}
YAML
"$bin" --config "$dir/config.yaml" 2>"$log" &
broker=$!
load=""
reloader=""
cleanup() {
    [[ -n "$load" ]] && kill "$load" 2>/dev/null || true
    [[ -n "$reloader" ]] && kill "$reloader" 2>/dev/null || true
    kill "$broker" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
sleep 1

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$broker/status"; }

.venv/bin/python Benchmarks/soak_load.py --port "$port" --tls-port $((port + 1)) --seconds $((minutes * 60 + 30)) \
    --publishers "${SOAK_PUBLISHERS:-4}" --rate "${SOAK_RATE:-200}" --churners "${SOAK_CHURNERS:-4}" \
    --ledger-rate "${SOAK_LEDGER_RATE:-50}" &
load=$!
reload_every="${SOAK_RELOAD_SECONDS:-60}"
(while sleep "$reload_every"; do kill -HUP "$broker" 2>/dev/null || exit 0; done) &
reloader=$!

echo "soak: $minutes min against $bin (2 shards, mqtt on $port, mqtts on $((port + 1)), SIGHUP every ${reload_every} s; $dir)"
echo "minute rss_mib"
samples=()
for ((minute = 0; minute <= minutes; minute++)); do
    if ((minute > 0)); then sleep 60; fi
    if ! kill -0 "$broker" 2>/dev/null; then echo "soak: FAILED, the broker died"; tail -20 "$log"; exit 1; fi
    if ! kill -0 "$load" 2>/dev/null; then
        wait "$load" || { echo "soak: FAILED, the load generator stopped"; exit 1; }
        load=""
    fi
    kb="$(rss_kb)"
    samples+=("$kb")
    awk -v m="$minute" -v kb="$kb" 'BEGIN { printf "%6d %7.1f\n", m, kb / 1024 }'
done

baseline="${samples[$((minutes / 3))]}"
last="${samples[$minutes]}"
grown=$(((last - baseline) / 1024))
if [[ -n "$load" ]]; then
    # The load generator's end: the ledger waits for the last acknowledged messages.
    wait "$load" || { echo "soak: FAILED, the load generator reported a failure"; exit 1; }
    load=""
fi
echo "soak: $(grep -c "SIGHUP received" "$log") reloads"
echo "soak: RSS after warm-up (minute $((minutes / 3))) $((baseline / 1024)) MiB, at the end $((last / 1024)) MiB, growth ${grown} MiB (bound ${growth_mb} MiB)"
if ((grown > growth_mb)); then echo "soak: FAILED, RSS keeps growing"; exit 1; fi
echo "soak: passed"
