#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this):
#   1. installs the Debian packages it needs (only the missing ones) and a Python venv
#   2. unit tests: `swift test` (codec, broker core state machines, configuration)
#   3. integration tests: pytest with paho-mqtt, mosquitto_pub/sub and raw sockets against the
#      real release binary, each test starting its own broker on a free loopback port
#   4. a few seconds of the benchmark load generator (checks only that messages flow)
#   5. the container image: its runtime stage built with podman and run (Tests/container/run.sh)
#   6. every libFuzzer target under Tests/Fuzz (release + AddressSanitizer), FUZZ_SECONDS
#      (default 60) each: FuzzDecoder, FuzzWebSocketFrames, FuzzTopicMatcher, FuzzEngine
# Every step runs even if an earlier one failed; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no

failed=()
step() {
    local name="$1"
    shift
    echo "=== $name"
    if ! "$@"; then
        failed+=("$name")
        echo "=== $name FAILED"
    fi
}

.ci/install-deps --test || { echo "installing dependencies failed"; exit 1; }
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv || exit 1; fi
.venv/bin/pip install -q --disable-pip-version-check -r Tests/integration/requirements.txt || exit 1

step "unit tests" swift test
step "release build" swift build -c release --product mqtt-broker
step "kafka mock build" swift build -c release --product kafka-mock
# pytest's own summary scrolls away behind the fuzzers' output: keep it to repeat at the end.
integration_log="$(mktemp)"
trap 'rm -f "$integration_log"' EXIT
integration() {
    env BROKER_BIN="$PWD/.build/release/mqtt-broker" .venv/bin/python -m pytest Tests/integration -q \
        2>&1 | tee "$integration_log"
}
step "integration tests" integration
step "benchmark smoke" Benchmarks/compare.sh --smoke
step "container image" Tests/container/run.sh
for dir in Tests/Fuzz/Fuzz*/; do
    target="$(basename "$dir")"
    step "fuzzing $target" Tests/Fuzz/run.sh "$target" "${FUZZ_SECONDS:-60}"
done

if [[ ${#failed[@]} -gt 0 ]]; then
    grep -E '^(FAILED|ERROR) ' "$integration_log" | sed 's/^/integration: /'
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all test steps passed"
