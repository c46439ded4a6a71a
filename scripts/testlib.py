"""What the process-level test scripts share (scripts/*.py, scripts/bench/*.py): a free loopback port, HTTP calls
that answer with their status instead of raising, check reporting, `hygge serve` as a child process (started on a
port with a data directory, ready once GET /readyz answers 200, stopped with SIGTERM), and Standard Webhooks
signatures.

Standard library only. A script imports it with its own directory resolved (ci.d/ links to the scripts):

    sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))   # scripts/bench/: os.path.dirname twice
    import testlib
"""
import base64, hashlib, hmac, json, os, signal, socket, subprocess, time, urllib.error, urllib.request

# The sandbox's demo merchant and its made-up credentials (README, CONTRACT §9).
DEMO_SHOP = "hygge-demo.myshopify.com"
DEMO_SHOPIFY_TOKEN = "shpat_sandbox_demo"    # X-Shopify-Access-Token of the Shopify emulator
DEMO_WEBHOOK_SECRET = "ws_sandbox_demo"      # signs the demo merchant's Whop webhooks
DEMO_COMPANY = "biz_sandbox_demo"            # its Whop company id


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------------------------
# HTTP

def request(method, url, body=None, headers=None, timeout=30):
    """One HTTP request → (status, body bytes, response headers as a dict), for 4xx/5xx answers too.

    body: None, bytes (sent as they are) or anything else (sent as JSON). With a body, Content-Type is
    application/json unless `headers` says otherwise. Connection failures raise (OSError, http.client errors).
    """
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if data is not None else {}
    sent.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def call(method, url, body=None, headers=None, timeout=30):
    """request() → (status, the decoded JSON body), or the raw bytes when the body is not a JSON object or array
    (a malformed one raises ValueError)."""
    status, raw, _ = request(method, url, body, headers, timeout)
    return status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)


# ----------------------------------------------------------------------------------------------------------------
# Checks

class Checks:
    """Named checks, printed as they are made: `ok   NAME — DETAIL` or `FAIL NAME — DETAIL` (the CI log's format)."""

    def __init__(self):
        self.passed, self.failed = [], []

    def check(self, name, ok, detail=""):
        """Records and prints one check; returns `ok`."""
        print(("ok   " if ok else "FAIL ") + name + (f" — {detail}" if detail else ""), flush=True)
        (self.passed if ok else self.failed).append(name)
        return ok


# ----------------------------------------------------------------------------------------------------------------
# `hygge serve`

class ServerError(SystemExit):
    """The server did not come up: a SystemExit (exit status 1, the message on stderr) unless a caller catches it."""


class Hygge:
    """`hygge serve --sandbox` as a child process, ready when the constructor returns (GET /readyz → 200).

    binary, data_dir: the executable and its --data-dir. port: a free one unless given (a restart reuses the old
    one). log: a path (appended to, closed on stop) or an open file that stays the caller's; stdout and stderr go
    there. env: added to this process's environment. ready_seconds: how long /readyz may take.
    """

    def __init__(self, binary, data_dir, log, port=None, env=None, ready_seconds=60):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log if isinstance(log, str) else getattr(log, "name", None)
        self.log_offset = os.path.getsize(self.log_path) if isinstance(log, str) and os.path.exists(log) else 0
        self.log = open(log, "a") if isinstance(log, str) else log
        self.owns_log = isinstance(log, str)
        self.proc = subprocess.Popen([binary, "serve", "--sandbox", "--port", str(self.port), "--data-dir", data_dir],
                                     stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        try:
            self.wait_ready(ready_seconds)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"hygge serve exited with {self.proc.returncode} during start-up{self._log_tail()}")
            try:
                if urllib.request.urlopen(self.base + "/readyz", timeout=2).status == 200:
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise ServerError(f"hygge serve never became ready in {seconds} s{self._log_tail()}")

    def _log_tail(self):
        if not self.log_path:
            return ""
        try:
            self.log.flush()
            with open(self.log_path, errors="replace") as f:
                return f"; log {self.log_path} ends:\n" + f.read()[-2000:]
        except OSError:
            return f"; log: {self.log_path}"

    def own_log(self):
        """What this process wrote to the log file (a shared log may hold earlier runs before it)."""
        with open(self.log_path) as f:
            f.seek(self.log_offset)
            return f.read()

    def kill(self):
        """SIGKILL, as a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=20):
        """SIGTERM (SIGKILL after `timeout` s) and wait; returns the exit status (negative: killed by that signal)."""
        self.proc.send_signal(signal.SIGTERM)  # nothing when it has exited already
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.owns_log and not self.log.closed:
            self.log.close()
        return self.proc.returncode


# ----------------------------------------------------------------------------------------------------------------
# Standard Webhooks (https://www.standardwebhooks.com), as Whop signs its webhooks

def standard_webhook_headers(secret, webhook_id, body, timestamp=None):
    """webhook-id, webhook-timestamp and webhook-signature (v1, HMAC-SHA256 of "id.timestamp.body") for `body` bytes."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"{webhook_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": webhook_id, "webhook-timestamp": stamp, "webhook-signature": "v1," + base64.b64encode(mac).decode()}
