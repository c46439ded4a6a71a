#!/usr/bin/env python3
"""Process-level crash test (issue 10): SIGKILL `hygge serve` mid-load, restart, prove nothing acknowledged is lost.

Two real processes: an upstream `hygge serve --sandbox` whose embedded Shopify and Whop emulators play the outside
world (their state survives the crashes because that process is never killed), and the Hygge under test, pointed at
them through HYGGE_SHOPIFY_BASE_URL / HYGGE_WHOP_API_BASE with HYGGE_FSYNC=always. This script plays the buyers and
Whop: it signs payment.succeeded webhooks itself (Standard Webhooks, the demo secret) and, like Whop, re-delivers any
webhook that was not answered 200 — with the same webhook-id — after each restart.

After every restart it checks: every acknowledged checkout (201), plan (200) and webhook (200) is present; once the
outbox drains, every paid checkout has exactly one Shopify order and no order is duplicated; the merchant's monthly
paid counter equals the number of paid checkouts.

Usage: scripts/crash-test.py [--cycles 5] [--binary .build/debug/hygge] [--workers 8] [--seed N]
"""
import argparse, functools, json, os, random, shutil, sys, tempfile, threading, time, uuid

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import testlib

SHOP, TOKEN, SECRET, COMPANY = testlib.DEMO_SHOP, testlib.DEMO_SHOPIFY_TOKEN, testlib.DEMO_WEBHOOK_SECRET, testlib.DEMO_COMPANY
ADMIN = "crash-test-admin"


call = functools.partial(testlib.call, timeout=10)


class Ledger:
    """What Hygge acknowledged to us."""

    def __init__(self):
        self.lock = threading.Lock()
        self.checkouts = {}   # id -> {"plan": plan_id | None, "total": minor}
        self.webhooks = {}    # checkout id -> (webhook id, body bytes, acked bool)


def signed(webhook_id, body):
    return testlib.standard_webhook_headers(SECRET, webhook_id, body)


def payment_body(checkout, plan, total):
    return json.dumps({
        "id": "msg_" + uuid.uuid4().hex, "type": "payment.succeeded", "company_id": COMPANY,
        "data": {"id": "pay_" + checkout[4:], "status": "paid", "total": total / 100, "currency": "usd",
                 "metadata": {"hygge_checkout_id": checkout, "shop": SHOP}, "plan": {"id": plan}},
    }).encode()


def buyer(base, variant, ledger, stop, rng_seed):
    rng = random.Random(rng_seed)
    while not stop.is_set():
        try:
            status, created = call("POST", base + "/api/checkout/create-from-cart",
                                   {"shop": SHOP, "currency": "USD", "items": [{"variant_id": variant, "quantity": rng.randint(1, 3)}]})
            if status != 201:
                continue
            checkout, total = created["checkout_id"], created["total"]["amount"]
            with ledger.lock:
                ledger.checkouts[checkout] = {"plan": None, "total": total}
            status, plan = call("POST", base + "/api/checkout/get-plan", {"checkout_id": checkout})
            if status != 200:
                continue
            with ledger.lock:
                ledger.checkouts[checkout]["plan"] = plan["plan_id"]
            webhook_id = "msg_" + uuid.uuid4().hex
            body = payment_body(checkout, plan["plan_id"], total)
            with ledger.lock:
                ledger.webhooks[checkout] = (webhook_id, body, False)
            status, _ = call("POST", base + "/api/webhooks/whop", body, signed(webhook_id, body))
            if status == 200:
                with ledger.lock:
                    ledger.webhooks[checkout] = (webhook_id, body, True)
        except (OSError, ValueError, KeyError):
            time.sleep(0.01)  # the server is gone (killed); keep trying until told to stop


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--binary", default=".build/debug/hygge")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"crash-test: seed {args.seed}, {args.cycles} cycles, {args.workers} buyers")
    work = tempfile.mkdtemp(prefix="hygge-crash-")
    port = testlib.free_port()  # the server under test comes back on the same port after each crash
    base = f"http://127.0.0.1:{port}"
    logs = open(os.path.join(work, "server.log"), "ab")
    up = testlib.Hygge(args.binary, os.path.join(work, "upstream"), logs)
    upstream = up.base
    server = None
    env = {"HYGGE_FSYNC": "always", "HYGGE_ADMIN_TOKEN": ADMIN, "HYGGE_SHOPIFY_BASE_URL": upstream + "/sandbox/shopify/{shop}",
           "HYGGE_WHOP_API_BASE": upstream + "/sandbox/whop/api/v1", "HYGGE_SNAPSHOT_INTERVAL": "700ms"}

    def start():
        return testlib.Hygge(args.binary, os.path.join(work, "data"), logs, port=port, env=env)

    failures = []
    try:
        status, products = call("GET", f"{upstream}/sandbox/shopify/{SHOP}/admin/api/2026-10/products.json", headers={"X-Shopify-Access-Token": TOKEN})
        variant = products["products"][0]["variants"][0]["id"]
        ledger = Ledger()
        server = start()
        for cycle in range(1, args.cycles + 1):
            stop = threading.Event()
            threads = [threading.Thread(target=buyer, args=(base, variant, ledger, stop, rng.random()), daemon=True) for _ in range(args.workers)]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.5, 2.5))
            server.kill()
            stop.set()
            for thread in threads:
                thread.join(timeout=15)
            server = start()
            # Whop re-delivers what was not answered 200, with the same webhook-id.
            with ledger.lock:
                pending = [(c, w) for c, w in ledger.webhooks.items() if not w[2]]
            for checkout, (webhook_id, body, _) in pending:
                status, _ = call("POST", base + "/api/webhooks/whop", body, signed(webhook_id, body))
                if status == 200:
                    ledger.webhooks[checkout] = (webhook_id, body, True)
                else:
                    failures.append(f"cycle {cycle}: redelivery of {checkout} answered {status}")
            failures += verify(base, upstream, ledger, cycle)
            acked = sum(1 for w in ledger.webhooks.values() if w[2])
            print(f"cycle {cycle}: {len(ledger.checkouts)} checkouts acknowledged, {acked} payments, "
                  f"{len(pending)} re-delivered, failures so far {len(failures)}", flush=True)
            if failures:
                break
    finally:
        for process in (server, up):
            if process:
                process.stop()
        logs.close()
    if failures:
        print("crash-test: FAILED", *failures[:20], f"(logs in {work}, seed {args.seed})", sep="\n  ")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("crash-test: ok")
    return 0


def verify(base, upstream, ledger, cycle):
    failures = []
    with ledger.lock:
        checkouts = dict(ledger.checkouts)
        webhooks = dict(ledger.webhooks)
    paid = set()
    for checkout, known in checkouts.items():
        status, body = call("GET", f"{base}/api/checkout/{checkout}", timeout=60)
        if status != 200:
            failures.append(f"cycle {cycle}: acknowledged checkout {checkout} lost ({status})")
            continue
        if body.get("total", {}).get("amount") != known["total"]:
            failures.append(f"cycle {cycle}: {checkout} total changed")
        if known["plan"] and body.get("plan_id") != known["plan"]:
            failures.append(f"cycle {cycle}: acknowledged plan of {checkout} lost")
        if checkout in webhooks and webhooks[checkout][2]:
            if body["status"] not in ("paid", "order_synced", "order_sync_failed"):
                failures.append(f"cycle {cycle}: acknowledged payment of {checkout} lost (status {body['status']})")
        if body["status"] in ("paid", "order_synced", "order_sync_failed"):
            paid.add(checkout)
    # Let the outbox drain, then every paid checkout has exactly one order upstream.
    deadline = time.time() + 60
    while time.time() < deadline:
        status, merchants = call("GET", base + "/admin/merchants", headers={"Authorization": "Bearer " + ADMIN}, timeout=60)
        demo = next(m for m in merchants["merchants"] if m["shop"] == SHOP)
        if demo["pending_orders"] == 0:
            break
        time.sleep(0.2)
    else:
        failures.append(f"cycle {cycle}: outbox did not drain ({demo['pending_orders']} pending)")
    status, orders = call("GET", f"{upstream}/sandbox/shopify/{SHOP}/admin/api/2026-10/orders.json?status=any", headers={"X-Shopify-Access-Token": TOKEN},
                          timeout=120)  # thousands of orders on a loaded machine
    counts = {}
    for order in orders["orders"]:
        counts[order.get("source_identifier")] = counts.get(order.get("source_identifier"), 0) + 1
    for checkout in paid:
        if counts.get(checkout, 0) != 1:
            failures.append(f"cycle {cycle}: paid checkout {checkout} has {counts.get(checkout, 0)} orders")
    for source, count in counts.items():
        if source not in paid:
            failures.append(f"cycle {cycle}: order for {source} which is not a paid checkout")
    # Paid checkouts created this month: the monthly counter adds up (all of them are, in a test run).
    if demo["usage"]["paid"] != len(paid):
        failures.append(f"cycle {cycle}: monthly paid counter {demo['paid']} != {len(paid)} paid checkouts")
    return failures


if __name__ == "__main__":
    sys.exit(main())
