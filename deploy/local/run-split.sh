#!/usr/bin/env bash
# Runs the registry as four processes on 127.0.0.1: auth :5101, manifest :5102, blob :5103, edge :5000.
# Metrics and health (HTTP/1.1): edge :5000/metrics, auth :9101, manifest :9102, blob :9103.
# Usage: deploy/local/run-split.sh [DATA_DIR]   (Ctrl+C stops all four)
# Another address for any of them (a port already taken): EDGE_ADDR, AUTH_ADDR, MANIFEST_ADDR, BLOB_ADDR,
# AUTH_HTTP_ADDR, MANIFEST_HTTP_ADDR, BLOB_HTTP_ADDR, e.g. EDGE_ADDR=127.0.0.1:15000 deploy/local/run-split.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$root/data}
cd "$root"
dotnet build Registry.sln -c Release -v quiet -nologo >/dev/null

edge=${EDGE_ADDR:-127.0.0.1:5000}
auth=${AUTH_ADDR:-127.0.0.1:5101} auth_http=${AUTH_HTTP_ADDR:-127.0.0.1:9101}
manifest=${MANIFEST_ADDR:-127.0.0.1:5102} manifest_http=${MANIFEST_HTTP_ADDR:-127.0.0.1:9102}
blob=${BLOB_ADDR:-127.0.0.1:5103} blob_http=${BLOB_HTTP_ADDR:-127.0.0.1:9103}

pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM

run() { dotnet "services/$1/bin/Release/net10.0/$2.dll" "${@:3}" & pids+=($!); }
run auth Registry.Auth --urls "http://$auth" --Registry:Observability:HttpUrl="http://$auth_http"
run blob Registry.Blob --urls "http://$blob" --data-dir "$data" --Registry:Observability:HttpUrl="http://$blob_http"
run manifest Registry.Manifest --urls "http://$manifest" --data-dir "$data" --Registry:Services:Blob="http://$blob" \
  --Registry:Observability:HttpUrl="http://$manifest_http"
run edge-http Registry.EdgeHttp --urls "http://$edge" \
  --Registry:Services:Auth="http://$auth" \
  --Registry:Services:Manifest="http://$manifest" \
  --Registry:Services:Blob="http://$blob"
echo "registry on http://$edge (pids ${pids[*]}); Ctrl+C stops it"
wait
