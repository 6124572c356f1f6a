#!/usr/bin/env bash
# The single test command: builds and runs every test project of Registry.sln in Release, then the
# end-to-end suite once more against the native AOT build (scripts/test-aot.sh).
#   scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Podman]
# With extra arguments only `dotnet test` runs (a filtered run skips the native build); REGISTRY_SKIP_AOT=1
# skips it too.
# Runs scripts/setup.sh first when a tool the tests need is missing (dotnet-gcdump in .tools/ included). Prints a summary line
# "tests: N passed, N failed, N skipped" and exits non-zero on any failure or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 MSBUILDDISABLENODEREUSE=1

for cmd in dotnet skopeo podman buildah umoci clang; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "test: $cmd is missing, running scripts/setup.sh"
    bash scripts/setup.sh
    break
  fi
done
[ -x .tools/dotnet-gcdump ] || { echo "test: .tools/dotnet-gcdump is missing, running scripts/setup.sh"; bash scripts/setup.sh; }

results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"

status=0
timeout --kill-after=60s "${TEST_TIMEOUT:-80m}" \
  dotnet test Registry.sln -c Release --nologo \
    --blame-hang-timeout 10m --blame-hang-dump-type none \
    --logger "trx;LogFilePrefix=tests" --logger "console;verbosity=normal" \
    --results-directory "$results" "$@" || status=$?

if [ "$#" -eq 0 ] && [ "${REGISTRY_SKIP_AOT:-0}" != "1" ]; then
  aot_status=0
  bash scripts/test-aot.sh "$results" || aot_status=$?
  if [ "$aot_status" -ne 0 ]; then
    echo "test: the native AOT build's tests failed ($aot_status)" >&2
    [ "$status" -ne 0 ] || status=$aot_status
  fi
fi

# Sum the counters of every TRX file (one per test project, one more for the native build's run).
passed=0; failed=0; skipped=0; total=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  total=$((total + $(get total)))
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done

# Name every failed test with the first lines of its message, so the end of a CI log says what broke.
if [ "$failed" -ne 0 ]; then
  echo
  echo "failed tests:"
  for trx in "$results"/*.trx; do
    awk '
      /<UnitTestResult / && /outcome="(Failed|Error|Timeout|Aborted)"/ {
        match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11)
        print "  " name; want = 1; next }
      /<UnitTestResult / { want = 0 }
      want && /<Message>/ { inmsg = 1; lines = 0 }
      want && inmsg { line = $0; sub(/^ *<Message>/, "", line); done = line ~ /<\/Message>/
        sub(/<\/Message>.*/, "", line); if (lines < 8) print "    " line; lines++
        if (done) { inmsg = 0; want = 0 } }
    ' "$trx"
  done
fi

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ]; then
  echo "test: a test step exited with $status" >&2
  exit "$status"
fi
if [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$total" -eq 0 ]; then echo "test: no test ran" >&2; exit 1; fi
exit 0
