#!/usr/bin/env python3
"""Process-level checks of the HTTP limits a hostile client meets (issue 9 §4), against a fresh sandbox server.

slowloris head (closed within ~20 s), slow body (408 request_timeout after 30 s), oversized header (400), oversized
body (413 payload_too_large), too many cart lines / bad quantity (400 invalid_request), and the server still serving
normal requests afterwards. Usage: scripts/limits-check.py [path/to/hygge]
"""
import json, os, shutil, socket, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import testlib

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/hygge"
checks = testlib.Checks()
check, failures = checks.check, checks.failed

data = tempfile.mkdtemp()
server = testlib.Hygge(BIN, os.path.join(data, "d"), os.path.join(data, "server.log"))
port, base = server.port, server.base
try:
    def conn():
        s = socket.create_connection(("127.0.0.1", port)); s.settimeout(45); return s

    def slow_head(result):
        t0 = time.time(); s = conn(); s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            while time.time() - t0 < 40:
                time.sleep(1); s.send(b"X-Trickle: 1\r\n")
                if s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"": break
        except BlockingIOError:
            pass
        except Exception:
            pass
        result["head"] = time.time() - t0

    def slow_body(result):
        t0 = time.time(); s = conn()
        s.send(b"POST /api/checkout/get-plan HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        answer = s.recv(65536)
        result["body"] = (time.time() - t0, answer)

    result = {}
    threads = [threading.Thread(target=slow_head, args=(result,)), threading.Thread(target=slow_body, args=(result,))]
    for t in threads: t.start()

    def request(method, path, body=None, headers=None):
        return testlib.request(method, base + path, body, headers, timeout=None)[:2]

    s = conn(); s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    check("oversized header → 400", s.recv(4096).startswith(b"HTTP/1.1 400"))
    status, body = request("POST", "/api/checkout/create-from-cart", b"{" + b" " * (2 * 1024 * 1024) + b"}",
                           {"Content-Type": "application/json"})
    check("2 MiB body → 413 payload_too_large", status == 413 and b"payload_too_large" in body, f"{status}")
    cart = {"shop": "hygge-demo.myshopify.com", "currency": "USD",
            "items": [{"variant_id": 450789469002, "quantity": 1}] * 101}
    status, body = request("POST", "/api/checkout/create-from-cart", json.dumps(cart).encode(), {"Content-Type": "application/json"})
    check("101 cart lines → 400 invalid_request", status == 400 and b"invalid_request" in body, f"{status}")
    cart["items"] = [{"variant_id": 450789469002, "quantity": 1000}]
    status, body = request("POST", "/api/checkout/create-from-cart", json.dumps(cart).encode(), {"Content-Type": "application/json"})
    check("quantity 1000 → 400 invalid_request", status == 400 and b"invalid_request" in body, f"{status}")
    cart["shop"] = "x" * 300 + ".myshopify.com"; cart["items"] = [{"variant_id": 1, "quantity": 1}]
    status, body = request("POST", "/api/checkout/create-from-cart", json.dumps(cart).encode(), {"Content-Type": "application/json"})
    check("300-char shop → 4xx JSON error", 400 <= status < 500 and b'"code"' in body, f"{status}")

    for t in threads: t.join()
    check("slowloris head closed within 25 s", result.get("head", 99) < 25, f"{result.get('head', 0):.1f}s")
    elapsed, answer = result["body"]
    check("slow body → 408 request_timeout", answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer,
          f"{elapsed:.1f}s {answer[:40]!r}")
    status, _ = request("GET", "/healthz")
    check("server still healthy", status == 200)
finally:
    rc = server.stop()
check("SIGTERM → exit 0", rc == 0, f"rc={rc}")
if failures:
    print(open(os.path.join(data, "server.log")).read()[-3000:])
    sys.exit(1)
shutil.rmtree(data, ignore_errors=True)
print("limits: ok")
