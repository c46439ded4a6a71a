#!/usr/bin/env python3
"""Turns the JSON lines of scripts/bench/run-all.sh into the markdown table of BENCHMARKS.md, ratios against goals."""
import json, os, sys

out = sys.argv[1] if len(sys.argv) > 1 else "artifacts/bench"


def load(name):
    path = os.path.join(out, name + ".jsonl")
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []


peers = {r["system"]: r for r in load("peers")}
ratios = {r["bench"]: r for r in load("ratios")}
flow = load("flow")
memory = {r["bench"]: r for r in load("memory")}
print(open(os.path.join(out, "machine.txt")).read() if os.path.exists(os.path.join(out, "machine.txt")) else "")
print("| measurement | result | p50 ms | p99 ms | command |\n|---|---|---|---|---|")
for system in ["redis", "postgresql", "hygge"]:
    r = peers.get(system)
    if r:
        print(f"| {system}: {r['what']}, {r['clients']} clients | {r['ops_per_s']:.0f}/s | {r.get('p50_ms', '')} | "
              f"{r.get('p99_ms', '')} | `{r['command']}` |")
for name, r in ratios.items():
    if "ops_per_s" in r:
        ratio = f" ({r['ratio_to_healthz']:.0%} of /healthz)" if r.get("ratio_to_healthz") else ""
        print(f"| {name}, {r['clients']} clients | {r['ops_per_s']:.0f}/s{ratio} | {r.get('p50_ms')} | {r.get('p99_ms')} | `{r['command']}` |")
for r in flow:
    if "ops_per_s" in r:
        steps = ", ".join(f"{k} {v}" for k, v in sorted(r.get("steps_p99_ms", {}).items()))
        print(f"| {r['bench']} | {r['ops_per_s']:.0f} checkouts/s, orders {r.get('orders_ok')} | {r.get('p50_ms')} | "
              f"{r.get('p99_ms')} (per step: {steps}) | `{r['command']}` |")
m = memory.get("RSS per merchant actor")
if m:
    print(f"| RSS per merchant ({m['merchants']} merchants) | {m['kib_per_merchant']} KiB | | | `{m['command']}` |")
m = memory.get("RSS per open checkout")
if m:
    print(f"| RSS per open checkout ({m['checkouts']} checkouts) | {m['bytes_per_checkout']} B; snapshot {m['snapshot_bytes']} B "
          f"in {m['snapshot_seconds']} s | | | `{m['command']}` |")

print("\n| goal | measured | met |\n|---|---|---|")
h, c = ratios.get("loadtest healthz"), ratios.get("loadtest create-from-cart")
if h and c:
    x = c["ops_per_s"] / h["ops_per_s"]
    print(f"| create-from-cart ≥ 40% of /healthz (loadtest) | {x:.0%} | {'yes' if x >= 0.4 else 'no'} |")
wh, wc = ratios.get("wrk healthz"), ratios.get("wrk create-from-cart")
if wh and wc:
    x = wc["ops_per_s"] / wh["ops_per_s"]
    print(f"| create-from-cart ≥ 40% of /healthz (wrk) | {x:.0%} | {'yes' if x >= 0.4 else 'no'} |")
hy, pg, rd = peers.get("hygge"), peers.get("postgresql"), peers.get("redis")
if hy and pg:
    x = hy["ops_per_s"] / pg["ops_per_s"]
    print(f"| durable webhook acks ≥ 3× PostgreSQL INSERT tps | {x:.2f}× | {'yes' if x >= 3 else 'no'} |")
if hy and rd:
    x = hy["ops_per_s"] / rd["ops_per_s"]
    print(f"| durable webhook acks ≥ 0.6× Redis appendfsync-always SET/s | {x:.2f}× | {'yes' if x >= 0.6 else 'no'} |")
half = next((r for r in flow if r.get("bench", "").startswith("flow at half peak, no")), None)
if half:
    worst = max(v for k, v in half["steps_p99_ms"].items() if k in ("create_from_cart", "get_plan", "pay"))
    print(f"| Hygge-added p99 < 5 ms at half of peak (worst of create/get-plan/pay, upper bound) | {worst} ms | "
          f"{'yes' if worst < 5 else 'no'} |")
