#!/usr/bin/env python3
"""Hygge's own benchmarks (issue 7 §2); each prints JSON lines and appends them to OUT/<name>.jsonl.

  ratios  — one server (HYGGE_FSYNC=always), one tool: /healthz vs create-from-cart (warm price cache) vs get-plan
            vs webhook ack, `hygge loadtest --mode …` at CLIENTS concurrency; plus wrk for /healthz and
            create-from-cart as a second opinion (wrk is lighter than the Swift load generator).
  flow    — the full checkout flow: peak throughput (closed loop), then half of that rate (--rate), whose per-step
            p99 is Hygge's own time (the emulators answer in-process with no added latency) — an upper bound of the
            Hygge-added latency; then the same rate with emulated upstream latency (80 ms Shopify, 120 ms Whop).
  memory  — RSS of the server before and after seeding MERCHANTS merchants, and after CHECKOUTS open checkouts
            spread over them (HYGGE_FSYNC=no to make the seeding quick; memory does not depend on it).

Usage: scripts/bench/hygge-bench.py ratios|flow|memory
env: HYGGE_BIN (.build/release/hygge), CLIENTS (50), SECONDS_EACH (20), MERCHANTS (10000), CHECKOUTS (100000),
     OUT (artifacts/bench), HYGGE_BENCH_LOG_LEVEL (info: the request log is written, as in production)
"""
import json, os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
import testlib

BIN = os.environ.get("HYGGE_BIN", ".build/release/hygge")
CLIENTS = int(os.environ.get("CLIENTS", "50"))
SECONDS_EACH = int(os.environ.get("SECONDS_EACH", "20"))
MERCHANTS = int(os.environ.get("MERCHANTS", "10000"))
CHECKOUTS = int(os.environ.get("CHECKOUTS", "100000"))
OUT = os.environ.get("OUT", "artifacts/bench")
LOG_LEVEL = os.environ.get("HYGGE_BENCH_LOG_LEVEL", "info")
BENCH_DIR = os.environ.get("BENCH_DIR", os.path.join(os.getcwd(), ".bench-data"))
os.makedirs(OUT, exist_ok=True)


class Server(testlib.Hygge):
    """A testlib.Hygge with its data and log in a directory of its own under BENCH_DIR, removed on stop."""

    def __init__(self, fsync="always", extra_env=None):
        os.makedirs(BENCH_DIR, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="hygge-bench-", dir=BENCH_DIR)
        super().__init__(BIN, os.path.join(self.dir, "data"), os.path.join(self.dir, "server.log"),
                         env={"HYGGE_FSYNC": fsync, "HYGGE_ADMIN_TOKEN": "bench", "LOG_LEVEL": LOG_LEVEL, **(extra_env or {})})
        self.url = self.base

    def rss_kib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"): return int(line.split()[1])

    def post(self, path, body, timeout=3600):
        status, reply = testlib.call("POST", self.url + path, body, {"Authorization": "Bearer bench"}, timeout)
        if status // 100 != 2:
            raise SystemExit(f"POST {path} answered {status}: {reply!r}")
        return reply

    def stop(self):
        rc = super().stop(timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def loadtest(url, *args):
    cmd = [BIN, "loadtest", "--url", url, "--json", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"loadtest failed ({done.returncode}): {done.stderr[-2000:]}")
    result["command"] = "hygge loadtest --url URL " + " ".join(args)
    return result


def emit(name, record):
    line = json.dumps(record, sort_keys=True)
    print(line, flush=True)
    with open(os.path.join(OUT, name + ".jsonl"), "a") as f:
        f.write(line + "\n")


def summary(result, label):
    primary = result["steps"].get("request") or result["steps"].get("flow") or {}
    return {"bench": label, "ops_per_s": round(result["throughput_per_s"], 1), "p50_ms": primary.get("p50_ms"),
            "p99_ms": primary.get("p99_ms"), "p99_9_ms": primary.get("p99_9_ms"), "errors": sum(result["errors"].values()),
            "clients": result["concurrency"], "seconds": round(result["wall_s"], 1), "command": result["command"]}


WRK_POST = """wrk.method = "POST"
wrk.body = '{"shop":"hygge-demo.myshopify.com","currency":"USD","items":[{"variant_id":450789469002,"quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url, path, lua=None):
    if not shutil.which("wrk"):
        return None
    args = ["wrk", "-t2", f"-c{CLIENTS}", f"-d{SECONDS_EACH}s", "--latency"]
    script = None
    if lua:
        script = os.path.join(BENCH_DIR, "post.lua"); open(script, "w").write(lua); args += ["-s", script]
    subprocess.run(args[:3] + ["-d3s"] + args[4:] + [url + path], capture_output=True)  # warm-up
    out = subprocess.run(args + [url + path], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m: return None
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"ops_per_s": rps, "p50_ms": pct(50), "p99_ms": pct(99), "errors": int(non2xx.group(1)) if non2xx else 0,
            "clients": CLIENTS, "command": " ".join(a if a != script else "post.lua" for a in args) + " URL" + path}


def ratios():
    server = Server("always")
    try:
        base = None
        for mode in ["healthz", "create-from-cart", "get-plan", "webhook"]:
            extra = ["--checkouts", str(max(5000, 400 * SECONDS_EACH))] if mode == "get-plan" else ["--warmup", "3s"]
            r = loadtest(server.url, "--mode", mode, "--concurrency", str(CLIENTS), "--duration", f"{SECONDS_EACH}s", *extra)
            s = summary(r, f"loadtest {mode}")
            base = base or s["ops_per_s"]
            s["ratio_to_healthz"] = round(s["ops_per_s"] / base, 3) if base else None
            emit("ratios", s)
        for label, path, lua in [("wrk healthz", "/healthz", None), ("wrk create-from-cart", "/api/checkout/create-from-cart", WRK_POST)]:
            w = wrk(server.url, path, lua)
            if w:
                w["bench"] = label
                emit("ratios", w)
    finally:
        emit("ratios", {"bench": "server exit status", "status": server.stop()})


def flow():
    server = Server("always")
    try:
        peak = loadtest(server.url, "--concurrency", "64", "--duration", f"{SECONDS_EACH}s", "--warmup", "3s", "--admin-token", "bench")
        p = summary(peak, "flow peak (closed loop, 64 buyers)")
        p["steps_p99_ms"] = {k: v["p99_ms"] for k, v in peak["steps"].items()}
        p["orders_ok"] = f'{peak["correctness"]["orders_ok"]}/{peak["correctness"]["paid"]}'
        emit("flow", p)
        half = max(1.0, round(peak["throughput_per_s"] / 2, 1))
        for label, extra in [("flow at half peak, no emulated upstream latency", []),
                             ("flow at half peak, Shopify 80 ms / Whop 120 ms", ["--shopify-latency", "80ms", "--whop-latency", "120ms"])]:
            r = loadtest(server.url, "--rate", str(half), "--concurrency", "256", "--duration", f"{SECONDS_EACH}s",
                         "--admin-token", "bench", *extra)
            s = summary(r, label)
            s["rate"] = half
            s["steps_p50_ms"] = {k: v["p50_ms"] for k, v in r["steps"].items()}
            s["steps_p99_ms"] = {k: v["p99_ms"] for k, v in r["steps"].items()}
            s["orders_ok"] = f'{r["correctness"]["orders_ok"]}/{r["correctness"]["paid"]}'
            s["ledger"] = r["correctness"]["ledger"]["detail"]
            emit("flow", s)
    finally:
        emit("flow", {"bench": "server exit status", "status": server.stop()})


def memory():
    server = Server("no", {"HYGGE_SNAPSHOT_INTERVAL": "1h", "HYGGE_SNAPSHOT_RECORDS": "100000000"})
    try:
        time.sleep(1)
        rss0 = server.rss_kib()
        t0 = time.time()
        server.post("/sandbox/load-merchants", {"count": MERCHANTS - 1})
        seeded_s = time.time() - t0
        time.sleep(1)
        rss1 = server.rss_kib()
        emit("memory", {"bench": "RSS per merchant actor", "merchants": MERCHANTS, "rss_before_kib": rss0, "rss_after_kib": rss1,
                        "kib_per_merchant": round((rss1 - rss0) / max(1, MERCHANTS - 1), 2), "seed_seconds": round(seeded_s, 1),
                        "command": f"POST /sandbox/load-merchants {{\"count\":{MERCHANTS - 1}}}, VmRSS before/after"})
        r = loadtest(server.url, "--mode", "create-from-cart", "--merchants", str(MERCHANTS), "--checkouts", str(CHECKOUTS),
                     "--concurrency", "32")
        time.sleep(1)
        rss2 = server.rss_kib()
        t0 = time.time()
        snap = server.post("/admin/snapshot", {})
        emit("memory", {"bench": "RSS per open checkout", "checkouts": r["completed"], "errors": sum(r["errors"].values()),
                        "merchants": MERCHANTS, "rss_before_kib": rss1, "rss_after_kib": rss2,
                        "bytes_per_checkout": round((rss2 - rss1) * 1024 / max(1, r["completed"]), 1),
                        "create_per_s": round(r["throughput_per_s"], 1),
                        "snapshot_seconds": round(time.time() - t0, 2), "snapshot_bytes": snap.get("bytes"),
                        "command": r["command"]})
    finally:
        emit("memory", {"bench": "server exit status", "status": server.stop()})


if __name__ == "__main__":
    {"ratios": ratios, "flow": flow, "memory": memory}[sys.argv[1]]()
