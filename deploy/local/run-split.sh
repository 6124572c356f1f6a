#!/usr/bin/env bash
# Runs the registry as four processes on 127.0.0.1: auth :5101, manifest :5102, blob :5103, edge :5000.
# Metrics and health (HTTP/1.1): edge :5000/metrics, auth :9101, manifest :9102, blob :9103.
# Usage: deploy/local/run-split.sh [DATA_DIR]   (Ctrl+C stops all four)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$root/data}
cd "$root"
dotnet build Registry.sln -c Release -v quiet -nologo >/dev/null

pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM

run() { dotnet "services/$1/bin/Release/net10.0/$2.dll" "${@:3}" & pids+=($!); }
run auth Registry.Auth --urls http://127.0.0.1:5101 --Registry:Observability:HttpUrl=http://127.0.0.1:9101
run blob Registry.Blob --urls http://127.0.0.1:5103 --data-dir "$data" --Registry:Observability:HttpUrl=http://127.0.0.1:9103
run manifest Registry.Manifest --urls http://127.0.0.1:5102 --data-dir "$data" --Registry:Services:Blob=http://127.0.0.1:5103 \
  --Registry:Observability:HttpUrl=http://127.0.0.1:9102
run edge-http Registry.EdgeHttp --urls http://127.0.0.1:5000 \
  --Registry:Services:Auth=http://127.0.0.1:5101 \
  --Registry:Services:Manifest=http://127.0.0.1:5102 \
  --Registry:Services:Blob=http://127.0.0.1:5103
echo "registry on http://127.0.0.1:5000 (pids ${pids[*]}); Ctrl+C stops it"
wait
