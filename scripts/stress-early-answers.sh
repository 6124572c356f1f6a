#!/usr/bin/env bash
# Regression check for the early-answer race (fixed; docs/performance.md, "Cancellation within 100 ms"):
# many PATCHes of 512 KiB to upload sessions that do not exist, which the blob service answers before
# the edge has sent the whole body, while two busy loops take the CPU. Every answer must be 404 BLOB_UPLOAD_UNKNOWN.
#   scripts/stress-early-answers.sh http://127.0.0.1:5000 [workers=8] [requests per worker=40]
# Bounded: workers x requests PATCHes, busy loops stop after 90 s. Loopback URLs only. Prints the count
# of each status; exits 1 when any answer was not 404. Running the registry with
# --Serilog:MinimumLevel:Override:Microsoft.AspNetCore.Server.Kestrel=Debug (slower) makes the race
# show more often; its log then has "DATA frame to closed stream" and "Reading is already in progress".
set -euo pipefail
url=${1:?usage: $0 http://127.0.0.1:PORT [workers] [requests]}
workers=${2:-8}
requests=${3:-40}
case "$url" in http://127.0.0.1:*|http://localhost:*) ;; *) echo "loopback URLs only" >&2; exit 2 ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 524288 /dev/urandom > "$work/body"
timeout 90 yes > /dev/null & busy1=$!
timeout 90 yes > /dev/null & busy2=$!
for w in $(seq 1 "$workers"); do
  (
    for _ in $(seq 1 "$requests"); do
      id=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
      curl -s -m 60 -o /dev/null -w '%{http_code}\n' -X PATCH --data-binary @"$work/body" \
        -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-524287' \
        "$url/v2/stress/app/blobs/uploads/$id" || echo 000
    done > "$work/codes.$w"
  ) &
done
wait $(jobs -p | grep -v -e "^$busy1\$" -e "^$busy2\$") 2>/dev/null || true
kill "$busy1" "$busy2" 2>/dev/null || true
sort "$work"/codes.* | uniq -c
! grep -qv '^404$' "$work"/codes.*
