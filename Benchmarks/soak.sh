#!/usr/bin/env bash
# Soak test (not in CI): mixed traffic with reconnect churn against `mqtt-broker --shards 2`,
# printing the broker's RSS every minute. Fails when the broker dies, the load generator sees
# a steady subscriber starve, or RSS is still growing at the end: the last sample may exceed
# the sample taken after the warm-up (a third of the run) by at most SOAK_RSS_GROWTH_MB.
#
#   Benchmarks/soak.sh                      # 30 minutes
#   SOAK_MINUTES=10 Benchmarks/soak.sh
# Settings: SOAK_MINUTES (30), SOAK_RSS_GROWTH_MB (32), SOAK_PUBLISHERS (4), SOAK_RATE (200 msg/s
# each), SOAK_CHURNERS (4), BROKER_BIN (.build/release/mqtt-broker, built if missing), SOAK_PORT.
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

log="$(mktemp "${TMPDIR:-/tmp}/soak-broker.XXXXXX.log")"
"$bin" --port "$port" --shards 2 2>"$log" &
broker=$!
load=""
cleanup() {
    [[ -n "$load" ]] && kill "$load" 2>/dev/null || true
    kill "$broker" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
sleep 1

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$broker/status"; }

.venv/bin/python Benchmarks/soak_load.py --port "$port" --seconds $((minutes * 60 + 30)) \
    --publishers "${SOAK_PUBLISHERS:-4}" --rate "${SOAK_RATE:-200}" --churners "${SOAK_CHURNERS:-4}" &
load=$!

echo "soak: $minutes min against $bin --shards 2 on port $port (broker log $log)"
echo "minute rss_mib"
samples=()
for ((minute = 0; minute <= minutes; minute++)); do
    if ((minute > 0)); then sleep 60; fi
    if ! kill -0 "$broker" 2>/dev/null; then echo "soak: FAILED, the broker died"; tail -20 "$log"; exit 1; fi
    if ! kill -0 "$load" 2>/dev/null; then
        wait "$load" || { echo "soak: FAILED, the load generator stopped"; exit 1; }
    fi
    kb="$(rss_kb)"
    samples+=("$kb")
    awk -v m="$minute" -v kb="$kb" 'BEGIN { printf "%6d %7.1f\n", m, kb / 1024 }'
done

baseline="${samples[$((minutes / 3))]}"
last="${samples[$minutes]}"
grown=$(((last - baseline) / 1024))
echo "soak: RSS after warm-up (minute $((minutes / 3))) $((baseline / 1024)) MiB, at the end $((last / 1024)) MiB, growth ${grown} MiB (bound ${growth_mb} MiB)"
if ((grown > growth_mb)); then echo "soak: FAILED, RSS keeps growing"; exit 1; fi
echo "soak: passed"
