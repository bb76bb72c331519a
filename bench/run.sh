#!/usr/bin/env bash
# Runs bulksync's benchmarks with the default sizes and writes the markdown
# table to stdout (progress goes to stderr). Extra arguments are passed on,
# e.g. a quick run:
#
#   bench/run.sh -rows 100000 -e2e-rows 10000 -latency-rows 2000 -fault-rows 2000 -runs 1
#
# It needs the Redis server at 127.0.0.1:6379 (database 15 is flushed) and
# takes about 15 minutes on a quiet 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  echo "run.sh: no Redis at 127.0.0.1:6379 (bash .ci/run starts one)" >&2
  exit 3
fi
exec go run ./bench "$@"
