#!/usr/bin/env bash
# The native AOT build under test: publishes it (scripts/publish-aot.sh), starts it on a free loopback
# port, checks what differs from the JIT build (admin captures answer 501), runs the end-to-end suite
# with real clients against it (all but RestartTests, which start their own in-process instances),
# then stops it with SIGTERM and expects a clean exit.
#   scripts/test-aot.sh [results-dir=artifacts/test-results]
# scripts/test.sh runs it after the other tests; it needs their Release build. Bounded: startup 60 s,
# the suite by TEST_TIMEOUT, shutdown 40 s.
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-artifacts/test-results}
mkdir -p "$results"

bash scripts/publish-aot.sh artifacts/aot

work=$(mktemp -d /tmp/registry-aot-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test-aot: FAILED: $*" >&2; echo "test-aot: the registry's log:" >&2; tail -50 "$work/registry.log" >&2 || true; exit 1; }

token=aot-smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
# The native runtime ignores GC settings written with 0x (checked below, with the warning it earns).
DOTNET_GCHeapHardLimit=0x40000000 artifacts/aot/registry --urls http://127.0.0.1:0 --data-dir "$work/data" \
  --Registry:Admin:Url=http://127.0.0.1:0 --Registry:Admin:Token="$token" \
  --Serilog:MinimumLevel:Override:Registry.Requests=Warning >"$work/registry.log" 2>&1 &
pid=$!

# Both addresses come from the startup lines: the edge's (event 110) and the admin server's (event 130).
url= admin=
for _ in $(seq 1 120); do
  kill -0 "$pid" 2>/dev/null || fail "the registry exited at startup"
  url=$(grep -o '"Addresses":"http://127\.0\.0\.1:[0-9]*' "$work/registry.log" | head -1 | cut -d'"' -f4 || true)
  admin=$(grep -o '"Address":"http://127\.0\.0\.1:[0-9]*/*"' "$work/registry.log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$url" ] && [ -n "$admin" ] && break
  sleep 0.5
done
[ -n "$url" ] && [ -n "$admin" ] || fail "no listening addresses in the log within 60 s"
admin=${admin%/}
echo "test-aot: native registry pid $pid at $url, admin at $admin"

check() { # name, expected status, curl arguments...
  local name=$1 expected=$2; shift 2
  local status
  status=$(curl -s -o "$work/body" -w '%{http_code}' --max-time 30 "$@") || status="curl failed"
  [ "$status" = "$expected" ] || fail "$name: expected $expected, got $status: $(head -c 300 "$work/body")"
  echo "test-aot: ok: $name ($status)"
}
check "GET /v2/" 200 "$url/v2/"
check "unknown manifest" 404 "$url/v2/aot/smoke/manifests/latest"
grep -q '"MANIFEST_UNKNOWN"' "$work/body" || fail "unknown manifest: no MANIFEST_UNKNOWN in $(cat "$work/body")"
check "/metrics" 200 "$url/metrics"
grep -q '^registry_gc_pause_seconds_count' "$work/body" || fail "/metrics has no registry_gc_pause_seconds"
grep -q '^registry_gc_heap_limit_bytes 1073741824$' "$work/body" \
  && fail "the native runtime took DOTNET_GCHeapHardLimit=0x40000000: the GcVariableIgnored warning is wrong now"
warnings=$(grep '"Name":"GcVariableIgnored"' "$work/registry.log" | grep -c '"Variable":"DOTNET_GCHeapHardLimit=0x40000000"' || true)
[ "$warnings" = 1 ] || fail "expected one GcVariableIgnored warning for DOTNET_GCHeapHardLimit=0x40000000, found $warnings"
echo "test-aot: ok: a GC setting written with 0x is ignored and named in a warning"
check "/healthz/ready" 200 "$url/healthz/ready"
check "admin counters" 200 -H "Authorization: Bearer $token" "$admin/admin/counters"
check "admin trace" 501 -H "Authorization: Bearer $token" "$admin/admin/trace?seconds=1"
grep -q '"UNSUPPORTED"' "$work/body" || fail "admin trace: no UNSUPPORTED error in $(cat "$work/body")"
check "admin dump" 501 -H "Authorization: Bearer $token" "$admin/admin/dump"
grep -q '"UNSUPPORTED"' "$work/body" || fail "admin dump: no UNSUPPORTED error in $(cat "$work/body")"
check "admin gcdump" 501 -H "Authorization: Bearer $token" "$admin/admin/gcdump"
grep -q '"UNSUPPORTED"' "$work/body" || fail "admin gcdump: no UNSUPPORTED error in $(cat "$work/body")"

status=0
E2E_REGISTRY_URL=$url timeout --kill-after=60s "${TEST_TIMEOUT:-80m}" \
  dotnet test tests/Registry.EndToEndTests/Registry.EndToEndTests.csproj -c Release --no-build --nologo \
    --filter 'FullyQualifiedName!~RestartTests' \
    --blame-hang-timeout 10m --blame-hang-dump-type none \
    --logger "trx;LogFilePrefix=aot-e2e" --logger "console;verbosity=normal" \
    --results-directory "$results" || status=$?
echo "test-aot: resident memory after the suite: $(grep VmRSS /proc/$pid/status | tr -s ' ')"
[ "$status" -eq 0 ] || fail "the end-to-end suite against the native build failed ($status)"

kill -TERM "$pid"
for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$pid" 2>/dev/null && fail "still running 40 s after SIGTERM"
exit_code=0
wait "$pid" || exit_code=$?
pid=
[ "$exit_code" -eq 0 ] || fail "exit code $exit_code after SIGTERM"
echo "test-aot: ok: stopped cleanly on SIGTERM"

# A heap limit under the 64 MiB the registry needs under load (32 MiB here) earns a warning at start.
DOTNET_GCHeapHardLimit=2000000 artifacts/aot/registry --urls http://127.0.0.1:0 --data-dir "$work/data-small" \
  >"$work/registry.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  kill -0 "$pid" 2>/dev/null || fail "the registry under a 32 MiB heap limit exited at startup"
  grep -q '"Name":"ProcessStarted"' "$work/registry.log" && break
  sleep 0.5
done
grep '"Name":"HeapLimitTooSmall"' "$work/registry.log" | grep -q '"HeapLimitBytes":33554432' \
  || fail "no HeapLimitTooSmall warning naming 33554432 bytes under DOTNET_GCHeapHardLimit=2000000"
kill -TERM "$pid"
for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
wait "$pid" || true
pid=
echo "test-aot: ok: a heap limit under 64 MiB is named in a warning at start"
