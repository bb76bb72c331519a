#!/usr/bin/env bash
# faults.sh [RUNS] [ROWS]: issue 8's fault check by hand, with real processes.
# A sandbox at --fail-rate 0.3 --fail-after-write 0.2, its own redis-server,
# two workers, then RUNS imports (default 10) of ROWS program licenses (default
# 300) with distinct external ids. Each import must end with every row ok;
# then the sandbox must hold exactly RUNS*ROWS licenses, each created once.
# BULKSYNC=path of the binary (default: built into a temp dir).
set -euo pipefail
runs=${1:-10} rows=${2:-300}
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/bulksync-faults-XXXX)
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
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --dir "$dir" >/dev/null
"$bin" sandbox --addr 127.0.0.1:$aport --token T --fail-rate 0.3 --fail-after-write 0.2 >"$dir/sandbox.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do curl -sf 127.0.0.1:$aport/_sandbox/stats >/dev/null && break; sleep 0.1; done
export REDIS_URL=redis://127.0.0.1:$rport/0 BULKSYNC_API_URL=http://127.0.0.1:$aport BULKSYNC_API_TOKEN=T
for w in 1 2; do "$bin" worker >"$dir/worker$w.log" 2>&1 & pids+=($!); done
fail=0
for r in $(seq "$runs"); do
  scripts/gen-program-licenses.sh "run$r" "$rows" >"$dir/run$r.csv"
  start=$(date +%s.%N)
  rc=0; "$bin" import "$dir/run$r.csv" --results "$dir/run$r.results.csv" >"$dir/run$r.summary.json" 2>"$dir/run$r.err" || rc=$?
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  # results: line,external_id,transaction_id,action,status,http_status,error_code,message,attempts
  awk -F, -v r="$r" -v rc="$rc" -v s="$secs" 'NR>1 { n++; act[$4]++; st[$5]++; a=$NF+0; att+=a; if (a>max) max=a }
    END { printf "run %d: exit %d, %.1fs, %d rows: ok %d failed %d; created %d updated %d unchanged %d; attempts total %d max %d\n",
      r, rc, s, n, st["ok"], st["failed"], act["created"], act["updated"], act["unchanged"], att, max }' "$dir/run$r.results.csv"
  ok=$(awk -F, 'NR>1 && $5=="ok"' "$dir/run$r.results.csv" | wc -l)
  [[ $rc == 0 && $ok == "$rows" ]] || { fail=1; echo "run $r: not every row ok; see $dir"; }
done
stats=$(curl -s 127.0.0.1:$aport/_sandbox/stats)
echo "sandbox: $(jq -c '{program_licenses, creates, updates, history, requests, faults}' <<<"$stats")"
want=$((runs * rows))
jq -e --argjson w "$want" '.program_licenses == $w and .creates == $w' <<<"$stats" >/dev/null \
  || { fail=1; echo "FAIL: want program_licenses == creates == $want"; }
# Spot-check a few licenses by external id: one each, created in one write.
for id in run1-1 run$runs-$rows run$(( (runs+1)/2 ))-$(( rows/2 )); do
  curl -sf "127.0.0.1:$aport/_sandbox/licenses/program?external_id=$id" | jq -c '{external_id, enrollment_config, transaction_id}'
done
if [[ $fail == 0 ]]; then echo PASS; rm -rf "$dir"; else echo "FAIL (kept $dir)"; exit 1; fi
