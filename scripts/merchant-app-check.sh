#!/usr/bin/env bash
# Process-level check of the merchant app against a fresh sandbox server: installs a shop through the emulated
# Shopify OAuth, walks the wizard (a bad key, then a good one with whitespace), the dashboard and Integrations →
# Whop, checks the pages render (no template residue, key elements present, strict CSP), takes screenshots with
# headless Chromium when it is installed, and greps every page, the server log and the data directory for each
# secret. Usage: scripts/merchant-app-check.sh [path/to/hygge] [screenshot-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/hygge}
SHOTS=${2:-}
PORT=$(scripts/free-port)
WORK=$(mktemp -d)
LOG="$WORK/server.log"
H="http://127.0.0.1:$PORT"
# An emulated company of its own (any apik_sandbox_<name> key is one); the demo shop holds apik_sandbox_demo's.
WHOP_KEY=apik_sandbox_check_company_1234
WEBHOOK_SECRET=ws_sandbox_check_company_1234
"$BIN" serve --sandbox --port "$PORT" --data-dir "$WORK/data" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "$H/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
fail() { echo "merchant-app-check: $*"; exit 1; }
JAR="$WORK/cookies"
SHOP=check-shop.myshopify.com
AUTHORIZE=$(curl -s -o /dev/null -w '%{redirect_url}' "$H/shopify/install?shop=$SHOP")
CALLBACK=$(curl -s -o /dev/null -w '%{redirect_url}' "$AUTHORIZE")
[[ "$CALLBACK" == "$H/shopify/callback?"* ]] || fail "authorize did not redirect back: $CALLBACK"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -c "$JAR" "$CALLBACK")
[ "$STATUS" = 302 ] || fail "callback answered $STATUS"
# The same callback again: its state and code are spent.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$CALLBACK")" = 401 ] || fail "replayed callback was accepted"

page() { # name path [curl args…] — saves the page and checks what every page must have
  local name=$1 path=$2; shift 2
  curl -s -b "$JAR" -D "$WORK/$name.headers" -o "$WORK/$name.html" "$@" "$H$path"
  grep -qi '^content-security-policy: default-src .none.' "$WORK/$name.headers" || fail "$name: no strict CSP"
  grep -q '{{' "$WORK/$name.html" && fail "$name: template residue"
  grep -q '</html>' "$WORK/$name.html" || fail "$name: truncated page"
}
csrf() { sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' "$WORK/$1.html" | head -1; }

page wizard /app
grep -q 'Connect Whop' "$WORK/wizard.html" || fail "wizard: no title"
[ "$(grep -c '<input id=' "$WORK/wizard.html")" = 1 ] || fail "wizard: not one input"
page wizard-failed /app/whop-key -X POST --data-urlencode "_csrf=$(csrf wizard)" --data-urlencode "api_key=apik_typo"
grep -q "This key didn.*t validate" "$WORK/wizard-failed.html" || fail "wizard: no failure message"
grep -q 'Company API Keys' "$WORK/wizard-failed.html" || fail "wizard: checks missing"
# The demo shop's company: refused, because Whop's events for one company are routed to one shop.
page wizard-in-use /app/whop-key -X POST --data-urlencode "_csrf=$(csrf wizard)" --data-urlencode "api_key=apik_sandbox_demo"
grep -q 'This Whop company is already connected to another shop' "$WORK/wizard-in-use.html" \
  || fail "wizard: no message for a company another shop holds"
STATUS=$(curl -s -b "$JAR" -o /dev/null -w '%{http_code}' -X POST --data-urlencode "_csrf=$(csrf wizard)" \
  --data-urlencode "api_key=  $WHOP_KEY  " "$H/app/whop-key")
[ "$STATUS" = 303 ] || fail "good key answered $STATUS"
page integrations /app/integrations/whop
grep -q "$H/api/webhooks/whop" "$WORK/integrations.html" || fail "integrations: webhook URL missing"
STATUS=$(curl -s -b "$JAR" -o /dev/null -w '%{http_code}' -X POST --data-urlencode "_csrf=$(csrf integrations)" \
  --data-urlencode "secret=$WEBHOOK_SECRET" "$H/app/webhook-secret")
[ "$STATUS" = 303 ] || fail "secret answered $STATUS"
page dashboard /app
grep -q 'Recent checkouts' "$WORK/dashboard.html" || fail "dashboard: no checkouts section"
grep -q 'Order syncs that failed' "$WORK/dashboard.html" || fail "dashboard: no failed order syncs section"
grep -q 'Refunds that failed' "$WORK/dashboard.html" || fail "dashboard: no failed refunds section"
grep -q "…${WHOP_KEY: -4}" "$WORK/dashboard.html" || fail "dashboard: no key fingerprint"
page settings /app/settings
curl -s -b "$JAR" -o "$WORK/api.json" "$H/api/merchant"

# shpat_ is the prefix of every (emulated) Shopify access token.
for secret in "$WHOP_KEY" "$WEBHOOK_SECRET" hygge_sandbox_api_secret shpat_; do
  grep -l -- "$secret" "$WORK"/*.html "$WORK/api.json" 2>/dev/null && fail "a page shows a secret"
  grep -rl -- "$secret" "$WORK/data" 2>/dev/null && fail "the data directory holds a plaintext secret"
done
grep -q -- "$WHOP_KEY" <(grep -v 'Whop API key' "$LOG") && fail "the log shows the Whop key"

if [ -n "$SHOTS" ]; then
  BROWSER=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$BROWSER" ]; then
    echo "merchant-app-check: no chromium; screenshots skipped"
  else
    mkdir -p "$SHOTS"
    for name in wizard wizard-failed wizard-in-use dashboard integrations settings; do
      sed "s#<head>#<head><base href=\"$H/\">#" "$WORK/$name.html" > "$WORK/$name.shot.html"
      "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,900 \
        --screenshot="$SHOTS/$name.png" "file://$WORK/$name.shot.html" >/dev/null 2>&1
      [ -s "$SHOTS/$name.png" ] || fail "no screenshot of $name"
    done
    python3 scripts/png-check.py "$SHOTS"/*.png || fail "a screenshot shows no rendered page"
    echo "merchant-app-check: screenshots in $SHOTS"
  fi
fi
echo "merchant-app-check: ok"
