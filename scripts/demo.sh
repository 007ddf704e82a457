#!/usr/bin/env bash
# The whole flow on the embedded default: dbt builds the hashed audiences on DuckDB, the local
# Spotify Ads sandbox starts on 127.0.0.1, the sync mirrors each audience into it, the sandbox
# stops. Run through `make demo`, which puts the project's .venv first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

state_dir=$(mktemp -d)
sandbox_pid=""
cleanup() {
    if [[ -n "$sandbox_pid" ]]; then
        kill "$sandbox_pid" 2>/dev/null || true
        wait "$sandbox_pid" 2>/dev/null || true
    fi
    rm -rf "$state_dir"
}
trap cleanup EXIT

echo "==> dbt build: normalize and hash the demo members on DuckDB"
dbt build --profiles-dir . --target local --quiet

echo "==> Starting the local Spotify Ads sandbox"
spotify-ads-sandbox --port 0 --env-file "$state_dir/sandbox.env" >"$state_dir/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 1 100); do
    [[ -s "$state_dir/sandbox.env" ]] && break
    if ! kill -0 "$sandbox_pid" 2>/dev/null; then
        cat "$state_dir/sandbox.log" >&2
        echo "The sandbox did not start." >&2
        exit 1
    fi
    sleep 0.1
done
[[ -s "$state_dir/sandbox.env" ]] || { echo "The sandbox did not start in time." >&2; exit 1; }
# shellcheck disable=SC1091
source "$state_dir/sandbox.env"

echo "==> spotify-audiences sync (first run creates the audiences)"
spotify-audiences sync --target local
echo
echo "==> spotify-audiences sync again: nothing changed, so the ledger skips the upload"
spotify-audiences --quiet sync --target local | grep -E '^[^ ]|action'
echo
echo "==> spotify-audiences sync --force: the same audiences are replaced, none duplicated"
spotify-audiences --quiet sync --target local --force | grep -E '^[^ ]|action|audience id'
