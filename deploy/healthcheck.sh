#!/usr/bin/env bash
# triage-healthcheck PORT [PATH]: one plain HTTP GET of http://127.0.0.1:PORT/PATH (default
# /health); exits 0 on a 2xx status, 1 otherwise. The runtime image has no curl or wget: bash's
# /dev/tcp is enough. Used by deploy/compose.yaml (`/ready` for triage, `/health` for triage-ml).
set -euo pipefail
port=${1:?usage: triage-healthcheck PORT [PATH]}
path=${2:-/health}
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
# Status line: HTTP/1.x CODE REASON
read -r -t 5 _ status _ <&3
[[ $status == 2[0-9][0-9] ]]
