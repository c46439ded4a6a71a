#!/usr/bin/env python3
"""Process-level checks of what an operator sees (issue 7 §3/§4, CONTRACT §1/§7), against a fresh sandbox server.

- GET /metrics lists every CONTRACT §7 metric from the start (at zero where nothing happened yet), and after a
  short `hygge loadtest` run, rejected webhooks and a snapshot: request-duration histograms labelled by route
  *template* (never a raw id), method and status; journal fsync latency and batch sizes; snapshot duration and size;
  outbox depth and retries; merchants; open checkouts; webhook rejections by reason.
- The process's log: one structured line per request with request id, merchant, route, status and duration; the
  client's X-Request-Id echoed and logged; no secret in any log line (the sandbox banner, which prints the demo's
  made-up credentials by design, is not a log line).
- SIGTERM → exit 0.
Usage: scripts/observability-check.py [path/to/hygge]
"""
import json, os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import testlib

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/hygge"
ADMIN = "obs-admin-" + os.urandom(6).hex()
checks = testlib.Checks()
check, failures = checks.check, checks.failed

tmp = tempfile.mkdtemp(prefix="hygge-obs-")
log_path = os.path.join(tmp, "server.log")
server = testlib.Hygge(BIN, os.path.join(tmp, "data"), log_path,
                       env={"HYGGE_ADMIN_TOKEN": ADMIN, "HYGGE_SNAPSHOT_INTERVAL": "1h", "LOG_LEVEL": "info"})
base = server.base


def request(method, path, body=None, headers=None):
    return testlib.request(method, base + path, body, headers)


def metrics():
    return request("GET", "/metrics")[1].decode()


def series(text, name):
    """{labels-string: value} of the samples of one metric name."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^" + re.escape(name) + r"(\{.*\})?\s+(\S+)$", line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


try:
    # 1. Every metric exists from the start.
    text = metrics()
    wanted = {
        "hygge_journal_fsync_seconds": "histogram", "hygge_journal_batch_records": "histogram",
        "hygge_snapshot_duration_seconds": "histogram", "hygge_snapshot_bytes": "histogram",
        "hygge_outbox_depth": "gauge", "hygge_outbox_retries_total": "counter", "hygge_merchants": "gauge",
        "hygge_open_checkouts": "gauge", "hygge_webhook_rejections_total": "counter",
    }
    for name, kind in wanted.items():
        check(f"/metrics lists {name} ({kind}) at start", f"# TYPE {name} {kind}" in text)
    reasons = {k for k in series(text, "hygge_webhook_rejections_total")}
    for reason in ["missing_headers", "stale_timestamp", "bad_signature", "unknown_merchant", "invalid_payload"]:
        check(f"rejection reason {reason} listed at zero", f'{{reason="{reason}"}}' in reasons, str(sorted(reasons)))
    check("hygge_merchants = 1 (the demo merchant) at start", series(text, "hygge_merchants").get("") == 1.0,
          str(series(text, "hygge_merchants")))

    # 2. Traffic: a short load test, webhook rejections, a snapshot, a request with our own id.
    lt = subprocess.run([BIN, "loadtest", "--url", base, "--checkouts", "12", "--concurrency", "3", "--merchants", "2",
                         "--admin-token", ADMIN], capture_output=True, text=True, timeout=300)
    last = lt.stdout.strip().splitlines()[-1] if lt.stdout.strip() else ""
    check("hygge loadtest exits 0", lt.returncode == 0, last or lt.stderr[-500:])
    check("loadtest last line format",
          re.fullmatch(r"loadtest: 12 checkouts in [\d.]+ s \([\d.]+/s\), p50 [\d.]+ ms, p99 [\d.]+ ms, orders 12/12, errors 0",
                       last) is not None, last)
    body = b'{"type":"payment.succeeded","company_id":"biz_sandbox_demo","data":{"id":"pay_obs"}}'
    status, _, _ = request("POST", "/api/webhooks/whop", body)
    check("unsigned webhook → 401", status == 401)
    forged = "v1,c2VjcmV0LXNpZ25hdHVyZS1ub3QtdmFsaWQtYXQtYWxsLTEyMzQ1Njc4OTA="
    status, _, _ = request("POST", "/api/webhooks/whop", body, {
        "webhook-id": "msg_obs_1", "webhook-timestamp": str(int(time.time())), "webhook-signature": forged})
    check("badly signed webhook → 401", status == 401)
    status, _, _ = request("POST", "/admin/snapshot", headers={"Authorization": f"Bearer {ADMIN}"})
    check("POST /admin/snapshot → 200", status == 200)
    status, created, _ = request("POST", "/api/checkout/create-from-cart", {
        "shop": "hygge-demo.myshopify.com", "currency": "USD", "items": [{"variant_id": 450789469002, "quantity": 1}]})
    checkout = json.loads(created)["checkout_id"]
    status, _, headers = request("GET", f"/api/checkout/{checkout}", headers={"X-Request-Id": "obs-req-777"})
    check("X-Request-Id echoed", status == 200 and headers.get("X-Request-Id") == "obs-req-777", str(headers.get("X-Request-Id")))
    status, _, headers = request("GET", "/healthz")
    check("X-Request-Id generated when absent", (headers.get("X-Request-Id") or "").startswith("req_"))

    # 3. Metrics after traffic.
    text = metrics()
    durations = series(text, "http_server_request_duration_seconds_count")
    routes = {re.search(r'route="([^"]*)"', k).group(1) for k in durations}
    for route, method, code in [("/api/checkout/create-from-cart", "POST", "201"), ("/api/checkout/get-plan", "POST", "200"),
                                ("/api/checkout/{id}", "GET", "200"), ("/api/webhooks/whop", "POST", "200"),
                                ("/api/webhooks/whop", "POST", "401"), ("/sandbox/whop/pay", "POST", "200")]:
        key = f'{{route="{route}",method="{method}",status="{code}"}}'
        check(f"request histogram {method} {route} {code}", durations.get(key, 0) >= 1, key)
    check("route labels are templates, never raw ids", not any("chk_" in r or "pay_" in r for r in routes), str(sorted(routes)))
    check("request histogram has sub-millisecond buckets",
          'http_server_request_duration_seconds_bucket{route="/healthz",method="GET",status="200",le="0.0005"}' in text)
    check("fsync timed", sum(series(text, "hygge_journal_fsync_seconds_count").values()) > 0)
    check("batch sizes recorded", sum(series(text, "hygge_journal_batch_records_count").values()) > 0)
    check("snapshot duration recorded", series(text, "hygge_snapshot_duration_seconds_count").get("", 0) >= 1)
    check("snapshot bytes recorded", series(text, "hygge_snapshot_bytes_sum").get("", 0) > 100)
    rejections = series(text, "hygge_webhook_rejections_total")
    check("rejections by reason counted", rejections.get('{reason="missing_headers"}', 0) >= 1 and
          rejections.get('{reason="bad_signature"}', 0) >= 1, str(rejections))
    check("outbox retries counter present", "" in series(text, "hygge_outbox_retries_total"))
    deadline = time.time() + 15
    while time.time() < deadline and series(metrics(), "hygge_merchants").get("") != 2.0:
        time.sleep(0.3)
    text = metrics()
    check("hygge_merchants = 2 after seeding a load merchant", series(text, "hygge_merchants").get("") == 2.0,
          str(series(text, "hygge_merchants")))
    check("hygge_open_checkouts counts the open checkout", series(text, "hygge_open_checkouts").get("", 0) >= 1,
          str(series(text, "hygge_open_checkouts")))
finally:
    rc = server.stop(timeout=30)
check("SIGTERM → exit 0", rc == 0, f"rc={rc}")

# 4. The log.
lines = open(log_path).read().splitlines()
log_lines = [l for l in lines if re.match(r"^\d{4}-\d\d-\d\dT\S+ (trace|debug|info|notice|warning|error|critical) ", l)]
request_lines = [l for l in log_lines if l.endswith(" request")]
check("request log lines exist", len(request_lines) > 50, str(len(request_lines)))
fields = ["request.id=", "merchant.id=", "http.route=", "http.method=", "http.status=", "duration.ms="]
bad = [l for l in request_lines if not all(f in l for f in fields)]
check("every request line has id, merchant, route, method, status, duration", not bad, bad[0] if bad else "")
mine = [l for l in request_lines if "request.id=obs-req-777 " in l]
check("our request id logged exactly once", len(mine) == 1, str(len(mine)))
check("…with its merchant, route template and status", bool(mine) and "merchant.id=hygge-demo.myshopify.com" in mine[0]
      and "http.route=/api/checkout/{id}" in mine[0] and "http.status=200" in mine[0], mine[0] if mine else "")
secrets = [ADMIN, forged, "ws_sandbox_demo", "apik_sandbox_demo", "shpat_sandbox_demo", "ws_sandbox_load_1",
           "apik_sandbox_load_1", "shpat_sandbox_load_1"]
leaks = [(s, l) for l in log_lines for s in secrets if s in l]
check("no secret in any log line", not leaks, f"{leaks[0][0]} in: {leaks[0][1][:200]}" if leaks else "")

if failures:
    print("".join(lines[-60:]) if len(lines) < 60 else "\n".join(lines[-60:]))
    print(f"observability: {len(failures)} check(s) failed; log kept at {log_path}")
    sys.exit(1)
shutil.rmtree(tmp, ignore_errors=True)
print("observability: ok")
