#!/usr/bin/env bash
# outage.sh [ROWS] [OUTAGE_AFTER] [OUTAGE_FOR] [RATE]: issue 8's outage check
# by hand. A sandbox (--latency 2ms, no other faults) whose outage starts
# OUTAGE_AFTER (default 20s) after it starts and lasts OUTAGE_FOR (default
# 90s), its own redis-server, two workers at --rate-limit RATE requests/s
# each (default 30, so that the batch is still running when the outage
# comes), and one import of ROWS program licenses (default 2000) started at
# once. Every row must end ok, nothing be created twice, the import's
# progress must say it waits for the API, and the sandbox's outage_answers
# must be a few per worker, not a few per row.
# BULKSYNC=path of the binary (default: built into a temp dir).
set -euo pipefail
rows=${1:-2000} after=${2:-20s} for=${3:-90s} rate=${4:-30}
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/bulksync-outage-XXXX)
bin=${BULKSYNC:-}
if [[ -z $bin ]]; then bin=$dir/bulksync; go build -o "$bin" ./cmd/bulksync; fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port) aport=$(free_port)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
scripts/gen-program-licenses.sh outage "$rows" >"$dir/roster.csv"
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --dir "$dir" >/dev/null
export REDIS_URL=redis://127.0.0.1:$rport/0 BULKSYNC_API_URL=http://127.0.0.1:$aport BULKSYNC_API_TOKEN=T
for w in 1 2; do "$bin" worker --rate-limit "$rate" >"$dir/worker$w.log" 2>&1 & pids+=($!); done
"$bin" sandbox --addr 127.0.0.1:$aport --token T --latency 2ms --outage-after "$after" --outage-for "$for" >"$dir/sandbox.log" 2>&1 & pids+=($!)
t0=$(date +%s.%N)
for _ in $(seq 50); do curl -sf 127.0.0.1:$aport/_sandbox/stats >/dev/null && break; sleep 0.1; done
# Sample the sandbox's counters every second, in the background.
( while sleep 1; do printf '%s %s\n' "$(echo "$(date +%s.%N) - $t0" | bc | cut -d. -f1)" \
    "$(curl -s 127.0.0.1:$aport/_sandbox/stats | jq -c '{program_licenses, requests, outage_answers}')"; done ) >"$dir/stats.log" 2>/dev/null & pids+=($!)
rc=0; "$bin" import "$dir/roster.csv" --results "$dir/results.csv" >"$dir/summary.json" 2>"$dir/import.err" || rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
fail=0
awk -F, -v rc="$rc" -v s="$secs" 'NR>1 { n++; act[$4]++; st[$5]++; att+=$NF; if ($NF+0>max) max=$NF+0 }
  END { printf "import: exit %d, %.1fs after the sandbox started, %d rows: ok %d failed %d; created %d updated %d unchanged %d; attempts total %d max %d\n",
    rc, s, n, st["ok"], st["failed"], act["created"], act["updated"], act["unchanged"], att, max }' "$dir/results.csv"
ok=$(awk -F, 'NR>1 && $5=="ok"' "$dir/results.csv" | wc -l)
[[ $rc == 0 && $ok == "$rows" ]] || { fail=1; echo "FAIL: not every row ok"; }
stats=$(curl -s 127.0.0.1:$aport/_sandbox/stats)
echo "sandbox: $(jq -c '{program_licenses, creates, updates, history, requests, faults, outage_answers}' <<<"$stats")"
jq -e --argjson w "$rows" '.program_licenses == $w and .creates == $w' <<<"$stats" >/dev/null \
  || { fail=1; echo "FAIL: want program_licenses == creates == $rows"; }
oa=$(jq .outage_answers <<<"$stats")
(( oa > 0 )) || { fail=1; echo "FAIL: the outage did not land in the batch (outage_answers 0)"; }
(( oa < rows / 10 )) || { fail=1; echo "FAIL: $oa outage answers for $rows rows: more than a few per worker"; }
waiting=$(grep -c 'waiting for the API' "$dir/import.err" || true)
echo "import progress lines saying 'waiting for the API': $waiting; first and last:"
grep 'waiting for the API' "$dir/import.err" | sed -n '1p;$p'
(( waiting > 0 )) || { fail=1; echo "FAIL: the import's progress never said it waits for the API"; }
echo "sandbox counters around the outage (seconds since start):"
awk -v a="${after%s}" -v f="${for%s}" '$1 >= a-2 && $1 <= a+f+3 && ($1 % 10 == 0 || $1 == a+1 || $1 == a+f+1)' "$dir/stats.log"
if [[ $fail == 0 ]]; then echo PASS; else echo "FAIL (kept $dir)"; exit 1; fi
echo "(logs in $dir)"
