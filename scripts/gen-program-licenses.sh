#!/usr/bin/env bash
# gen-program-licenses.sh PREFIX N [CONFIG] > FILE
# N valid program-license rows with external_id PREFIX-1 .. PREFIX-N, each
# with an enrollment_config of CONFIG (default {"auto_enroll": true}).
set -euo pipefail
prefix=$1 n=$2 cfg=${3:-'{"auto_enroll": true}'}
cfg=${cfg//\"/\"\"}
echo 'platform_key,platform_org,program_key,name,count,started,expired,active,metadata,enrollment_config,source,external_id'
for i in $(seq "$n"); do
  printf 'acme,acme,program-v1:acme+p%d+2024,License %s-%d,%d,2024-01-15T09:00:00Z,2025-01-15T09:00:00Z,true,"{""i"": %d}","%s",hris,%s-%d\n' \
    $((i % 7)) "$prefix" "$i" $((i % 500 + 1)) "$i" "$cfg" "$prefix" "$i"
done
