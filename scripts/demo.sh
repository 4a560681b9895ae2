#!/usr/bin/env bash
# make demo: relay the bundled sample Okta events through a bundled route table to a local
# Workflows stand-in (`okta-relay sink`), with no AWS or Okta account. One route's endpoint
# answers 503, to show retries and the dead-letter file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

port="${DEMO_PORT:-8765}"
events=samples/eventbridge-events.jsonl
work="$(mktemp -d)"
cargo build --quiet --locked -p okta-relay
okta_relay="${CARGO_TARGET_DIR:-target}/debug/okta-relay"

"$okta_relay" sink --listen "127.0.0.1:$port" --record "$work/received.jsonl" \
    --fail /api/flo/token-audit/invoke=503 > "$work/sink.log" &
sink=$!
stop_sink() {
    kill "$sink" 2>/dev/null || true
    wait "$sink" 2>/dev/null || true
    rm -rf "$work"
}
trap stop_sink EXIT
for _ in $(seq 50); do
    grep -q "listening" "$work/sink.log" 2>/dev/null && break
    kill -0 "$sink" 2>/dev/null || { cat "$work/sink.log" >&2; echo "demo: the sink could not start on port $port; set DEMO_PORT" >&2; exit 1; }
    sleep 0.1
done
sed "s/{{PORT}}/$port/" samples/routes.demo.json > "$work/routes.json"

echo "okta-relay demo: $(wc -l < "$events") sample Okta events → routes in samples/routes.demo.json → local endpoint :$port"
echo
status=0
DEMO_WORKFLOWS_TOKEN=demo-client-token "$okta_relay" replay --routes "$work/routes.json" --allow-http-localhost \
    --budget-seconds 3 --dead-letters "$work/dead-letters.jsonl" "$events" || status=$?
[[ $status -le 1 ]] || exit "$status"

echo
echo "What the local endpoint received (status path route uuid eventType attempt bytes):"
sed 's/^/  /' "$work/sink.log" | grep -v listening
echo
if [[ -s "$work/dead-letters.jsonl" ]]; then
    echo "Dead letters (what a redrive would resend):"
    python3 -c 'import json,sys
for line in open(sys.argv[1]):
    l = json.loads(line); print("  " + l["kind"], l.get("route"), l.get("uuid"), "-", l["reason"])' "$work/dead-letters.jsonl"
fi
echo
echo "Try: okta-relay replay --routes infra/routes.example.json --dry-run $events"
