#!/usr/bin/env bash
# Builds the broker with ThreadSanitizer and runs the cross-shard integration tests against it
# (the takeover storm, shards, sessions, shared subscriptions): a session, a connection or any
# engine state touched by two shard threads is reported, even when it does not crash.
#   Tests/tsan/run.sh [STORM_RUNS]   (default 3 runs of the storm; about 15 minutes on 2 cores,
#                                     most of it the first build)
# Not part of Tests/run-all.sh (the instrumented build doubles CI's time); run it after a change
# to takeover, hand-over or the rings. Exits non-zero on any report not in suppressions.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
swift build -c release --sanitize=thread --scratch-path .build-tsan --product mqtt-broker || exit 1
base="$(mktemp -d "${TMPDIR:-/tmp}/tsan.XXXXXX")"
export BROKER_BIN="$PWD/.build-tsan/release/mqtt-broker" SWIFT_BACKTRACE=enable=no
export TSAN_OPTIONS="halt_on_error=0 history_size=4 suppressions=$PWD/Tests/tsan/suppressions.txt"
status=0
for i in $(seq 1 "$runs"); do
    .venv/bin/python -m pytest "Tests/integration/test_15_hostile.py::test_session_takeover_storm" -q \
        -p no:cacheprovider --basetemp="$base/storm-$i" || status=1
done
.venv/bin/python -m pytest Tests/integration/test_06_session.py Tests/integration/test_11_shards.py \
    Tests/integration/test_20_shared.py -q -p no:cacheprovider --basetemp="$base/suites" || status=1
reports="$(find "$base" -name 'broker*.stderr' -exec grep -l 'WARNING: ThreadSanitizer' {} + || true)"
if [[ -n "$reports" ]]; then
    echo "ThreadSanitizer reports in:"
    echo "$reports"
    for file in $reports; do grep -A20 'WARNING: ThreadSanitizer' "$file" | head -60; done
    status=1
fi
echo "tsan: storm runs=$runs reports=$(echo -n "$reports" | grep -c . || true) exit=$status"
[[ $status -eq 0 ]] && rm -rf "$base"
exit $status
