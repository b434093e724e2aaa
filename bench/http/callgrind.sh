#!/bin/bash
# User-space instructions per proxied request, under valgrind's callgrind: deterministic where req/s on a
# shared machine is not. Starts an nginx backend (core 1) and wharf from <repo> under callgrind (core 0),
# warms up uninstrumented, then counts <count> requests. Kernel work (the syscalls) is not counted.
# wharf's heap flags are given on the command line: `wharf serve` would otherwise re-execute itself with
# them (bin/wharf.js), and the new image would run outside valgrind.
# With CALLGRIND_KEEP=<dir>, node also writes its JIT symbol map (--perf-basic-prof) and the counted dump
# plus the map are copied there; `node bench/http/callgrind-names.ts <dir>` then lists functions by name.
# Usage: bench/http/callgrind.sh <wharf repo dir> [path=/small] [warm-up=30000] [count=4000] [connections=64]
set -euo pipefail
REPO=$(cd "$1" && pwd); P=${2:-/small}; WARM=${3:-30000}; N=${4:-4000}; C=${5:-64}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
NODE=$HERE/node_modules/.bin/node
DIR=$(mktemp -d /tmp/wharf-callgrind-XXXXXX); chmod 755 "$DIR"
cleanup() { [ -n "${VP:-}" ] && kill "$VP" 2>/dev/null; [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null; sleep 1; rm -rf "$DIR"; }
trap cleanup EXIT
PORTS=$("$NODE" -e "
const net=require('node:net');const ps=[];let n=0;
for(let i=0;i<4;i++){const s=net.createServer();s.listen(0,'127.0.0.1',()=>{ps.push(s.address().port);s.close();if(++n===4)console.log(ps.join(' '))})}")
read -r BACKEND HTTP HTTPS ADMIN <<<"$PORTS"
"$NODE" --input-type=module -e "
import { writeFileSync } from 'node:fs';
import { backendConfig, echoModulePath, wharfManifests, LARGE_BODY_BYTES } from '$HERE/bench/http/configs.ts';
writeFileSync('$DIR/64k.bin', Buffer.alloc(LARGE_BODY_BYTES, 'w'));
writeFileSync('$DIR/nginx.conf', backendConfig('$DIR', $BACKEND, echoModulePath()));
for (const [f, y] of Object.entries(wharfManifests($BACKEND))) writeFileSync('$DIR/' + f, y);"
taskset -c 1 nginx -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log" &
cd "$REPO"
taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DIR/cg.out" --smc-check=all-non-file \
  "$NODE" ${CALLGRIND_KEEP:+--perf-basic-prof} --max-semi-space-size=8 --heap-growing-percent=50 bin/wharf.js serve --manifests "$DIR" --bind 127.0.0.1 --admin-bind 127.0.0.1 \
  --http-port "$HTTP" --https-port "$HTTPS" --admin-port "$ADMIN" --log-level warn > "$DIR/valgrind.log" 2>&1 &
VP=$!
for _ in $(seq 1 180); do curl -s -m 5 -o /dev/null -H 'Host: bench.test' "http://127.0.0.1:$HTTP$P" && break; sleep 1; done
LOAD="$HERE/bench/http/fixed-load.ts"
taskset -c 1 "$NODE" "$LOAD" "$HTTP" "$P" "$WARM" "$C"
# Commands reach callgrind when the process next wakes: one request after each makes sure it is applied.
callgrind_control -i on "$VP" > /dev/null; curl -s -m 30 -o /dev/null -H 'Host: bench.test' "http://127.0.0.1:$HTTP$P"; sleep 1
callgrind_control -z "$VP" > /dev/null; curl -s -m 30 -o /dev/null -H 'Host: bench.test' "http://127.0.0.1:$HTTP$P"; sleep 1
taskset -c 1 "$NODE" "$LOAD" "$HTTP" "$P" "$N" "$C"
callgrind_control -d "$VP" > /dev/null
VPID=$VP; kill "$VP"; wait "$VP" 2>/dev/null || true; VP=
OUT="$DIR/cg.out.1" # the requested dump; cg.out itself is what ran after it, up to the exit
if [ -n "${CALLGRIND_KEEP:-}" ]; then
  mkdir -p "$CALLGRIND_KEEP"; cp "$OUT" "$CALLGRIND_KEEP/cg.out"; cp "/tmp/perf-$VPID.map" "$CALLGRIND_KEEP/perf.map" 2>/dev/null || true
  echo "$N" > "$CALLGRIND_KEEP/requests"
fi
# Background compilation (TurboFan) still running after the warm-up is reported apart: it is not per-request work.
callgrind_annotate --inclusive=no --threshold=100 "$OUT" 2>/dev/null | awk -v n="$N" '
  /^ *[0-9,]+ +\( *[0-9.]+%\)/ { v = $1; gsub(",", "", v); if ($0 ~ /PROGRAM TOTALS/) next; total += v; if ($0 ~ /v8::internal::compiler|maglev|turboshaft/) comp += v }
  END { printf "instructions per request: %.0f (%.0f without the optimizing compiler), %d requests\n", total / n, (total - comp) / n, n }'
