#!/usr/bin/env bash
# make demo: route the bundled sample Okta events through the bundled example patterns, locally,
# with no AWS or Okta account. Shows which event each route would forward.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

events=samples/eventbridge-events.jsonl
cargo build --quiet --locked -p okta-relay
okta_relay() { cargo run --quiet --locked -p okta-relay -- "$@"; }

mapfile -t types < <(grep -o '"eventType":"[^"]*"' "$events" | cut -d'"' -f4)
echo "okta-relay demo: ${#types[@]} sample Okta System Log events ($events)"
for pattern in samples/patterns/*.json; do
    route="$(basename "$pattern" .json)"
    okta_relay pattern check --pattern "$pattern" >/dev/null
    mapfile -t verdicts < <(okta_relay pattern test --pattern "$pattern" --events "$events")
    echo
    echo "route ${route} (pattern: ${pattern})"
    for i in "${!types[@]}"; do
        mark="  skip   "
        [[ "${verdicts[$i]}" == "true" ]] && mark="  FORWARD"
        printf '%s %s\n' "$mark" "${types[$i]}"
    done
done
echo
echo "Try your own: okta-relay pattern test --pattern FILE --events $events"
