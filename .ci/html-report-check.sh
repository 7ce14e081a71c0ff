#!/usr/bin/env bash
# The HTML report in a real browser: a short run writes its report, and headless Chromium
# (Debian's `chromium`, installed if missing) opens it with the network disabled; the same
# for a short capacity search's report. Fails on any console message (the page has no
# script: any message is an error) and on any request the page makes (it must load
# nothing: every such request is a failed one). Before that, a page with a console error
# and an external image must fail the same detector, so a detector that sees nothing cannot
# pass. SCREENSHOT=FILE keeps the screenshot (docs/report-*.png);
# SCENARIO=FILE reports another scenario (default the quickstart), HEIGHT the screenshot's.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Opens $1 headless and prints its problems: console messages from Chromium's log, and the
# requests the page made from the network log (Chromium's own background requests carry no
# page origin and are left out). Every request is refused: hosts resolve to nothing and any
# proxy is a closed port.
open_page() { # HTML file, screenshot file
    local profile netlog
    profile=$(mktemp -d "$work/profile.XXXX")
    netlog="$profile.netlog.json"
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --no-first-run --user-data-dir="$profile" --enable-logging=stderr --v=0 \
        --host-resolver-rules='MAP * ~NOTFOUND' --proxy-server='http://127.0.0.1:9' \
        --log-net-log="$netlog" --hide-scrollbars --window-size=1200,"${HEIGHT:-2400}" \
        --screenshot="$2" "file://$1" 2>&1 | grep -E 'CONSOLE|Uncaught' || true
    python3 - "$netlog" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
for event in log["events"]:
    params = event.get("params", {})
    if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params and params.get("initiator") != "not an origin":
        print("request from the page:", params.get("url"))
PY
}

cat > "$work/bad.html" <<'HTML'
<!DOCTYPE html><html><body><img src="https://example.com/x.png"><script>console.error("broken")</script></body></html>
HTML
bad=$(open_page "$work/bad.html" "$work/bad.png")
if ! grep -q CONSOLE <<<"$bad" || ! grep -q 'request from the page' <<<"$bad"; then
    echo "the detector missed the console error or the external image of a broken page: $bad" >&2
    exit 1
fi

# PRESENCE_BENCH=path uses a binary already built.
bin=${PRESENCE_BENCH:-target/release/presence-bench}
[ -n "${PRESENCE_BENCH:-}" ] || cargo build --release --quiet
scenario=${SCENARIO:-scenarios/quickstart.yaml}
# Exit 1 or 3 is a verdict or no verdict on the server: the report is written either way.
"$bin" run "$scenario" --out "$work/out" --html "$work/report.html" -q || true
[ -s "$work/report.html" ] || { echo "no report written" >&2; exit 1; }

# A capacity search's page too (its Capacity section): a short search, about 10 s, whose
# top level holds.
"$bin" capacity scenarios/capacity-knee.yaml --from 50 --to 100 --warmup 1s --hold 2s --confirm 2s \
    --out "$work/cap" --html "$work/capacity.html" -q >/dev/null || true
[ -s "$work/capacity.html" ] || { echo "no capacity report written" >&2; exit 1; }
grep -q '<h2>Capacity</h2>' "$work/capacity.html" || { echo "the capacity report has no Capacity section" >&2; exit 1; }

for page in report capacity; do
    found=$(open_page "$work/$page.html" "$work/$page.png")
    if [ -n "$found" ]; then
        echo "the $page page has console errors or failed requests:" >&2
        printf '%s\n' "$found" >&2
        exit 1
    fi
    [ -s "$work/$page.png" ] || { echo "no screenshot: the $page page did not render" >&2; exit 1; }
done
if [ -n "${SCREENSHOT:-}" ]; then cp "$work/report.png" "$SCREENSHOT"; fi
echo "html report: a run's and a capacity search's pages rendered with no console error and no failed request"
