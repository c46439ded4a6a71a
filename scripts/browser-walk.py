#!/usr/bin/env python3
"""The buyer's journey in a real browser (issue 8): headless Chromium (Debian package) driven over the DevTools
protocol on a pipe (--remote-debugging-pipe), so nothing but the Python standard library is needed.

Against a fresh `hygge serve --sandbox` (free port, temporary data directory) it walks the demo storefront:
  desktop  — store opened on http://localhost:P while the API is http://127.0.0.1:P (cross-origin: real CORS);
             add two products, tamper the cart's prices in the page, Checkout → the drawer (role=dialog) shows the
             server-verified lines and total; keyboard: Escape closes and gives focus back, Tab stays in the dialog;
             pay with a real click in the Whop iframe → the drawer shows "Paid" and the order name → that order is
             in the Shopify emulator; "Back to the store" shows an emptied cart.
  phone    — 390×844 mobile viewport, same-origin: the drawer fills the screen, nothing overflows, pay, Paid.
  new tab  — the emulated Whop page refuses framing: "Open it in a new tab", pay there, the drawer shows Paid.
  errors   — Whop too slow (502 whop_unavailable): a clear message and "Continue to regular checkout", which
             reaches the shop's own checkout; a page on a foreign origin is refused by CORS.
  limit    — a second server whose demo merchant may take one payment a month: the second checkout says the
             limit is reached and offers the regular checkout.
Screenshots of every step go to --artifacts DIR (kept); without it they go to a temporary directory that is removed
with the server's data and the browser profile at the end.

--bench N measures Checkout click → drawer visible with the plan ready (iframe in the drawer), with emulated
upstream latency (--shopify-latency-ms / --whop-latency-ms, via POST /sandbox/config), over N runs, and prints a
Markdown table. Exit status 0 only when every check passed; the last line is "browser: N passed, M failed".

Usage: scripts/browser-walk.py [--bin .build/debug/hygge] [--artifacts DIR] [--chromium chromium]
       scripts/browser-walk.py --bench 10 [--shopify-latency-ms 80 --whop-latency-ms 120]
"""
import argparse, base64, http.server, json, os, re, shutil, signal, socketserver, statistics, subprocess
import sys, tempfile, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import testlib

SHOP, TOKEN = testlib.DEMO_SHOP, testlib.DEMO_SHOPIFY_TOKEN

checks = testlib.Checks()
check, passed, failed = checks.check, checks.passed, checks.failed


class Stop(Exception):
    pass


def require(name, ok, detail=""):
    if not check(name, ok, detail):
        raise Stop(name)


call = testlib.call


# ----------------------------------------------------------------------------------------------------------------
# A minimal DevTools-protocol client over --remote-debugging-pipe (fd 3: commands in, fd 4: messages out, NUL-ended).

class Browser:
    def __init__(self, chromium, profile):
        self.profile = profile
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()

        def child_fds():
            # Copy first: a pipe may already sit on fd 3 or 4, and dup2 onto itself would keep it close-on-exec.
            r, w = os.dup(cmd_r), os.dup(out_w)
            os.dup2(r, 3); os.dup2(w, 4)
            os.set_inheritable(3, True); os.set_inheritable(4, True)
            os.setsid()

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--remote-debugging-pipe", "--user-data-dir=" + profile,
             "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-extensions", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
             "--hide-scrollbars", "--mute-audio", "--lang=en-US", "about:blank"],
            preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(profile, "chromium.log"), "w"))
        os.close(cmd_r); os.close(out_w)
        self.next_id = 0
        self.replies, self.events = {}, []
        self.cv = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()
        self.send("Target.setDiscoverTargets", {"discover": True})

    def _reader(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self.out_r, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cv:
                    self.closed = True; self.cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self.cv:
                    if "id" in msg:
                        self.replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self.cv.notify_all()

    def send(self, method, params=None, session=None, timeout=30):
        with self.cv:
            self.next_id += 1; ident = self.next_id
        msg = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        with self.cv:
            while ident not in self.replies:
                left = deadline - time.time()
                if left <= 0 or getattr(self, "closed", False):
                    raise TimeoutError(method)
                self.cv.wait(left)
            reply = self.replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, predicate, timeout=15):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                for i, event in enumerate(self.events):
                    if predicate(event):
                        del self.events[i]
                        return event
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("event")
                self.cv.wait(left)

    def new_page(self, width, height, mobile=False, scale=1):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        return Page(self, target, width, height, mobile, scale)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait()


class Page:
    def __init__(self, browser, target, width, height, mobile=False, scale=1):
        self.b, self.target = browser, target
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.frames = {}  # OOPIF target id → session
        for domain in ("Page", "Runtime", "DOM"):
            self.cmd(domain + ".enable")
        self.cmd("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True})
        if width:
            self.cmd("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})
            if mobile:
                self.cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})

    def cmd(self, method, params=None, timeout=30):
        return self.b.send(method, params, self.session, timeout)

    def eval(self, expression, timeout=30, await_promise=False):
        result = self.cmd("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": await_promise, "userGesture": False}, timeout)
        if "exceptionDetails" in result:
            raise RuntimeError("page: " + json.dumps(result["exceptionDetails"])[:400])
        return result["result"].get("value")

    def wait(self, expression, timeout=15, interval=0.03):
        deadline = time.time() + timeout
        while True:
            try:
                value = self.eval(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            if time.time() > deadline:
                return value
            time.sleep(interval)

    def goto(self, url):
        self.eval("window.__walkMarker = 1")
        self.cmd("Page.navigate", {"url": url})
        return self.wait_loaded()

    def wait_loaded(self, timeout=20):
        return self.wait("window.__walkMarker === undefined && document.readyState === 'complete' && "
                         "!!(window.Hygge && window.Hygge.version)", timeout)

    def mark_navigation(self):
        self.eval("window.__walkMarker = 1")

    def click_at(self, x, y):
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1, buttons=1 if kind == "mousePressed" else 0)
            self.cmd("Input.dispatchMouseEvent", params)

    def rect(self, selector):
        return self.eval(f"""(function(){{var n=document.querySelector({json.dumps(selector)});if(!n)return null;
            n.scrollIntoView({{block:'center',inline:'center'}});var r=n.getBoundingClientRect();
            return {{x:r.left,y:r.top,w:r.width,h:r.height,cl:n.clientLeft||0,ct:n.clientTop||0}}}})()""")

    def click(self, selector):
        r = self.rect(selector)
        if not r:
            raise Stop(f"no element {selector}")
        self.click_at(r["x"] + r["w"] / 2, r["y"] + r["h"] / 2)

    def key(self, key, shift=False):
        codes = {"Tab": 9, "Escape": 27, "Enter": 13}
        base = {"key": key, "code": key, "windowsVirtualKeyCode": codes[key], "nativeVirtualKeyCode": codes[key],
                "modifiers": 8 if shift else 0}
        down = {"type": "keyDown", "text": "\r"} if key == "Enter" else {"type": "rawKeyDown"}
        self.cmd("Input.dispatchKeyEvent", {**down, **base})
        self.cmd("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def screenshot(self, path):
        data = self.cmd("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def frame_eval(self, url_part, expression, timeout=10):
        """Evaluates in the (i)frame whose URL contains url_part: an out-of-process frame's own session, else an
        isolated world in this page's process."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.b.cv:
                attached = [e for e in self.b.events if e.get("method") == "Target.attachedToTarget"]
            for event in attached:
                if event["params"]["targetInfo"].get("type") != "iframe":
                    continue
                try:
                    result = self.b.send("Runtime.evaluate", {
                        "expression": f"location.href.indexOf({json.dumps(url_part)}) >= 0 ? [({expression})] : null",
                        "returnByValue": True}, event["params"]["sessionId"], timeout=5)
                except (RuntimeError, TimeoutError):
                    continue
                value = result.get("result", {}).get("value")
                if "exceptionDetails" not in result and value:
                    return value[0]
            tree = self.cmd("Page.getFrameTree")["frameTree"]
            stack = list(tree.get("childFrames", []))
            while stack:
                node = stack.pop()
                stack.extend(node.get("childFrames", []))
                if url_part in node["frame"].get("url", ""):
                    world = self.cmd("Page.createIsolatedWorld", {"frameId": node["frame"]["id"]})
                    result = self.cmd("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                           "contextId": world["executionContextId"]})
                    if "exceptionDetails" not in result:
                        return result["result"].get("value")
            time.sleep(0.1)
        return None

    def close(self):
        try:
            self.b.send("Target.closeTarget", {"targetId": self.target})
        except Exception:
            pass


# ----------------------------------------------------------------------------------------------------------------

DRAWER_STATE = "(document.getElementById('hygge-drawer')||{getAttribute:function(){return 'none'}}).getAttribute('data-state')"


def drawer_visible(page):
    return page.eval("""(function(){var d=document.querySelector('[role="dialog"]');if(!d||d.hidden)return false;
        var r=d.getBoundingClientRect();return r.width>0&&r.height>0&&getComputedStyle(d).visibility!=='hidden'})()""")


def wait_state(page, states, timeout=20):
    expr = f"[{','.join(json.dumps(s) for s in states)}].indexOf({DRAWER_STATE}) >= 0 && {DRAWER_STATE}"
    return page.wait(expr, timeout)


def admin_prices(base):
    status, body = call("GET", f"{base}/sandbox/shopify/{SHOP}/admin/api/2026-10/products.json",
                        headers={"X-Shopify-Access-Token": TOKEN})
    prices = {}
    for product in body["products"]:
        for variant in product["variants"]:
            whole, _, cents = variant["price"].partition(".")
            prices[variant["id"]] = int(whole) * 100 + int((cents + "00")[:2])
    return prices


def orders(base):
    status, body = call("GET", f"{base}/sandbox/shopify/{SHOP}/admin/api/2026-10/orders.json?status=any",
                        headers={"X-Shopify-Access-Token": TOKEN})
    return body.get("orders", []) if status == 200 else []


def usd(minor):
    return f"{minor // 100}.{minor % 100:02d} USD"


TAMPER = """(function(){
  var real = window.fetch; window.__realFetch = real;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : input.url;
    return real.apply(this, arguments).then(function (r) {
      if (!/\\/cart\\.js(\\?|$)/.test(url)) return r;
      return r.clone().json().then(function (cart) {
        cart.items.forEach(function (i) { i.price = 1; i.line_price = i.quantity; i.final_line_price = i.quantity; });
        cart.total_price = cart.items.reduce(function (s, i) { return s + i.quantity; }, 0);
        cart.original_total_price = cart.total_price;
        return new Response(JSON.stringify(cart), { status: 200, headers: { 'Content-Type': 'application/json' } });
      });
    });
  };
  document.querySelectorAll('#cart-lines li').forEach(function (li) { li.textContent = li.textContent.replace(/\\d+\\.\\d\\d USD/, '0.01 USD'); });
  var t = document.getElementById('cart-total'); if (t) t.textContent = '0.02 USD';
  var cartURL = window.Shopify.routes.root + 'cart.js';
  return window.__realFetch(cartURL).then(function (r) { return r.json(); }).then(function (real) {
    return window.fetch(cartURL).then(function (r) { return r.json(); }).then(function (fake) {
      return { real: real.total_price, fake: fake.total_price };
    });
  });
})()"""


def add_to_cart(page, variant_index):
    ids = page.eval("Array.prototype.map.call(document.querySelectorAll('button[name=\"add\"]'), function (b) { return +b.dataset.variant; })")
    variant = ids[variant_index]
    page.mark_navigation()
    page.click(f'button[name="add"][data-variant="{variant}"]')
    page.wait_loaded()
    return variant


def checkout(page):
    """Clicks Checkout (a real click) and waits for the drawer to settle; returns (state, click→ready ms)."""
    page.eval("""window.__clickAt = null; window.addEventListener('click', function (e) {
        if (e.target.closest && e.target.closest('[name="checkout"]')) window.__clickAt = performance.now(); }, { capture: true, once: true });""")
    page.click('button[name="checkout"]')
    state = wait_state(page, ["ready", "error", "order_synced", "failed", "expired", "empty"], 25)
    timing = page.eval("window.Hygge.timings.plan && window.__clickAt !== null ? window.Hygge.timings.plan - window.__clickAt : null")
    return state, timing


def pay_in_frame(page, selector="#hygge-drawer iframe"):
    frame = page.rect(selector)
    if not frame:
        raise Stop("no payment iframe")
    button = page.frame_eval("/sandbox/whop/checkout/", """(function(){var b=document.getElementById('pay');
        if(!b)return null;var r=b.getBoundingClientRect();return {x:r.left,y:r.top,w:r.width,h:r.height}})()""")
    if not button:
        raise Stop("no Pay button in the Whop frame")
    x = frame["x"] + frame["cl"] + button["x"] + button["w"] / 2
    y = frame["y"] + frame["ct"] + button["y"] + button["h"] / 2
    page.click_at(x, y)


def expect_paid(page, base, checkout_id, expected_total, label, shot):
    state = wait_state(page, ["order_synced", "failed", "error"], 30)
    require(f"{label}: drawer reaches order_synced after paying", state == "order_synced", f"state {state}")
    text = page.eval("document.getElementById('hygge-paid').textContent")
    match = re.search(r"#\d+", text or "")
    check(f"{label}: the paid state says Paid and names the order", "Paid" in text and match is not None, repr(text))
    page.wait("document.activeElement && document.activeElement.closest('#hygge-drawer') !== null", 3)
    shot(page, "paid")
    synced = [o for o in orders(base) if o.get("source_identifier") == checkout_id]
    check(f"{label}: the order is in the Shopify emulator", len(synced) == 1, f"{len(synced)} orders for {checkout_id}")
    if synced and match:
        order = synced[0]
        check(f"{label}: Shopify's order matches the drawer (name, total, tag)",
              order.get("name") == match.group(0) and order.get("total_price") == usd(expected_total)[:-4]
              and "hygge-checkout" in order.get("tags", ""),
              f"{order.get('name')} {order.get('total_price')} {order.get('tags')}")


def capture_checkout_ids(page):
    # Records every create-from-cart answer the script receives (without altering it).
    page.eval("""(function(){ if (window.__walkSpy) return; window.__walkSpy = true; window.__created = [];
      var f = window.fetch; window.fetch = function (input) { var url = typeof input === 'string' ? input : input.url;
        return f.apply(this, arguments).then(function (r) {
          if (/create-from-cart$/.test(url)) r.clone().json().then(function (j) { window.__created.push(j); });
          return r; }); }; })()""")


def created(page):
    return page.eval("window.__created") or []


# ----------------------------------------------------------------------------------------------------------------

def desktop_walk(browser, base, alias, shot):
    label = "desktop"
    page = browser.new_page(1280, 900)
    try:
        prices = admin_prices(base)
        page.goto(alias + "/sandbox/store")
        require(f"{label}: the storefront loads with the script tag", page.eval("window.Hygge.version") is not None)
        check(f"{label}: the store has name=\"add\" forms posting to /cart/add and a name=\"checkout\" button in a /checkout form",
              page.eval("""!!document.querySelector('form[action$="/cart/add"] button[name="add"]') &&
                  !!document.querySelector('form[action$="/checkout"] button[name="checkout"]')"""))
        shot(page, "store")
        first = add_to_cart(page, 0)
        second = add_to_cart(page, 2)
        second = add_to_cart(page, 2)
        expected = prices[first] + 2 * prices[second]
        lines = page.eval("document.querySelectorAll('#cart-lines li').length")
        check(f"{label}: two lines in the cart after adding", lines == 2, f"{lines} lines")
        shot(page, "cart")
        tamper = page.eval(TAMPER, await_promise=True)
        check(f"{label}: cart.js prices tampered in the page", tamper["fake"] == 3 and tamper["real"] == expected,
              f"page now says {tamper['fake']} minor units, the shop {tamper['real']}")
        capture_checkout_ids(page)
        shot(page, "tampered")

        state, ms = checkout(page)
        require(f"{label}: Checkout opens the drawer with the plan ready", state == "ready", f"state {state}")
        check(f"{label}: the drawer is visible (role=dialog)", drawer_visible(page))
        shown = page.eval("document.getElementById('hygge-total').textContent")
        check(f"{label}: the drawer shows the server-verified total, not the tampered one", shown == usd(expected),
              f"{shown!r}, expected {usd(expected)!r}, page claimed 0.03 USD")
        line_texts = page.eval("Array.prototype.map.call(document.querySelectorAll('#hygge-drawer tr.hg-line'), function (r) { return r.textContent; })")
        check(f"{label}: line items with currency and two decimals", len(line_texts) == 2 and all(
            re.search(r"\d+\.\d\d USD", t) for t in line_texts) and line_texts[1].startswith("2 \u00d7"), repr(line_texts))
        note = page.eval("(document.querySelector('#hygge-drawer .hg-note')||{}).textContent || ''")
        check(f"{label}: a price-changed notice with a regular-checkout button", "Prices changed" in note and
              page.eval("!!document.querySelector('#hygge-drawer .hg-note .hg-fallback')"), repr(note[:60]))
        check(f"{label}: the Whop payment is already in the drawer (iframe)", page.eval(
            "(function(){var f=document.querySelector('#hygge-drawer iframe');return !!f && f.src.indexOf('/sandbox/whop/checkout/')>0 && f.getBoundingClientRect().height>200})()"))
        ids = created(page)
        chk = ids[0]["checkout_id"] if ids else None
        check(f"{label}: create-from-cart flagged the tampered client total", bool(ids) and ids[0].get("client_total_mismatch") is True)
        aria = page.eval("""(function(){var d=document.querySelector('[role="dialog"]');var l=document.getElementById(d.getAttribute('aria-labelledby'));
            var x=d.querySelector('.hg-close');return {modal:d.getAttribute('aria-modal'),label:l&&l.textContent,close:x&&x.getAttribute('aria-label'),
            focus:d.contains(document.activeElement),inert:document.querySelector('main').inert}})()""")
        check(f"{label}: accessible dialog (aria-modal, aria-labelledby, labelled close, focus inside, page inert)",
              aria == {"modal": "true", "label": "Checkout", "close": "Close checkout", "focus": True, "inert": True}, repr(aria))
        print(f"     click → drawer ready: {ms:.0f} ms", flush=True)
        shot(page, "drawer")

        page.key("Escape")
        closed = page.wait("document.getElementById('hygge-drawer').hidden", 3)
        back = page.eval("document.activeElement && document.activeElement.getAttribute('name')")
        check(f"{label}: Escape closes the drawer and gives focus back to Checkout", bool(closed) and back == "checkout",
              f"hidden={closed} focus={back}")
        check(f"{label}: the page is usable again after closing (no inert left)", page.eval("!document.querySelector('main').inert"))
        shot(page, "escaped")

        page.key("Enter")
        state = wait_state(page, ["ready", "error"], 15)
        require(f"{label}: Enter on the focused Checkout button reopens the drawer", state == "ready", f"state {state}")
        check(f"{label}: reopening reuses the same checkout (no second one)", len(created(page)) == 1, f"{len(created(page))} created")
        seen = []
        for _ in range(9):
            page.key("Tab")
            time.sleep(0.05)
            seen.append(page.eval("""(function(){var a=document.activeElement;if(!a)return 'none';
                if(!a.closest('#hygge-drawer'))return 'OUTSIDE:'+a.tagName;return a.tagName+(a.className?'.'+a.className.split(' ')[0]:'')})()"""))
        check(f"{label}: Tab cycles inside the dialog (into the Whop frame and around)",
              all(not s.startswith("OUTSIDE") and s != "none" for s in seen) and seen.count("BUTTON.hg-close") >= 2
              and "IFRAME" in seen, " → ".join(seen))
        page.eval("document.querySelector('#hygge-drawer .hg-close').focus()")
        page.key("Tab", shift=True)
        last = page.eval("document.activeElement.className")
        check(f"{label}: Shift+Tab from the first control wraps to the last", last == "hg-tab", repr(last))
        page.eval("document.querySelector('#hygge-drawer .hg-close').focus()")
        shot(page, "focus")

        pay_in_frame(page)
        page.frame_eval("/sandbox/whop/checkout/", "document.getElementById('result').textContent")
        time.sleep(0.3)
        shot(page, "paying")
        expect_paid(page, base, chk, expected, label, shot)
        page.mark_navigation()
        page.click("#hygge-drawer .hg-actions a")
        page.wait_loaded()
        empty = page.eval("document.getElementById('cart-lines').textContent")
        check(f"{label}: back in the store, the cart was emptied", "empty" in empty, repr(empty))
        shot(page, "after")
    finally:
        page.close()


def phone_walk(browser, base, shot):
    label = "phone"
    page = browser.new_page(390, 844, mobile=True, scale=2)
    try:
        prices = admin_prices(base)
        page.goto(base + "/sandbox/store")
        shot(page, "store")
        variant = add_to_cart(page, 4)
        capture_checkout_ids(page)
        shot(page, "cart")
        state, ms = checkout(page)
        require(f"{label}: Checkout opens the drawer with the plan ready", state == "ready", f"state {state}")
        geometry = page.eval("""(function(){var d=document.getElementById('hygge-drawer').getBoundingClientRect();
            var f=document.querySelector('#hygge-drawer iframe').getBoundingClientRect();
            var t=document.getElementById('hygge-total').getBoundingClientRect();
            return {w:d.width,h:d.height,left:d.left,fw:f.width,fr:f.right,tr:t.right,tb:t.bottom,vw:innerWidth,vh:innerHeight,
                    sw:document.getElementById('hygge-drawer').scrollWidth}})()""")
        check(f"{label}: the drawer fills the phone screen and nothing overflows sideways",
              geometry["w"] == geometry["vw"] and geometry["left"] == 0 and geometry["h"] >= geometry["vh"] - 1
              and geometry["fr"] <= geometry["vw"] and geometry["tr"] <= geometry["vw"]
              and geometry["sw"] <= geometry["vw"], json.dumps(geometry))
        check(f"{label}: the total is on screen without scrolling", geometry["tb"] <= geometry["vh"])
        shown = page.eval("document.getElementById('hygge-total').textContent")
        check(f"{label}: the verified total", shown == usd(prices[variant]), repr(shown))
        print(f"     click → drawer ready: {ms:.0f} ms", flush=True)
        shot(page, "drawer")
        chk = created(page)[0]["checkout_id"]
        pay_in_frame(page)
        expect_paid(page, base, chk, prices[variant], label, shot)
    finally:
        page.close()


def new_tab_walk(browser, base, shot):
    label = "new tab"
    call("POST", base + "/sandbox/config", {"whop_frame_deny": True})
    page = browser.new_page(1280, 900)
    try:
        prices = admin_prices(base)
        page.goto(base + "/sandbox/store")
        variant = add_to_cart(page, 1)
        capture_checkout_ids(page)
        state, _ = checkout(page)
        require(f"{label}: Checkout opens the drawer", state == "ready", f"state {state}")
        frame_headers = urllib.request.urlopen(page.eval("document.querySelector('#hygge-drawer iframe').src")).headers
        check(f"{label}: the emulated Whop page refuses framing", frame_headers.get("X-Frame-Options") == "DENY")
        time.sleep(0.5)
        shot(page, "refused")
        page.click("#hygge-drawer a.hg-tab")
        target = None
        for _ in range(100):
            target = next((t["targetId"] for t in browser.send("Target.getTargets")["targetInfos"]
                           if t["type"] == "page" and "/sandbox/whop/checkout/" in t.get("url", "")), None)
            if target:
                break
            time.sleep(0.1)
        require(f"{label}: 'Open it in a new tab' opens a tab", target is not None)
        tab = Page(browser, target, 1000, 700)
        tab.wait("document.readyState === 'complete' && !!document.getElementById('pay')", 10)
        check(f"{label}: the payment page opened in a new tab", tab.eval("location.pathname").startswith("/sandbox/whop/checkout/"))
        shot(page, "waiting")
        tab.click("#pay")
        tab.wait("/Payment complete/.test(document.getElementById('result').textContent)", 15)
        shot(tab, "whop-tab")
        back = tab.eval("!document.getElementById('back').hidden")
        check(f"{label}: the Whop tab offers the way back to the store", back)
        tab.close()
        expect_paid(page, base, created(page)[0]["checkout_id"], prices[variant], label, shot)
    finally:
        call("POST", base + "/sandbox/config", {"whop_frame_deny": False})
        page.close()


def reopen_walk(browser, base, shot):
    """The buyer closes the drawer, pays elsewhere (another tab), then clicks Checkout again: the drawer shows the
    paid order instead of a second checkout."""
    label = "reopen"
    page = browser.new_page(1280, 900)
    try:
        page.goto(base + "/sandbox/store")
        add_to_cart(page, 7)
        capture_checkout_ids(page)
        state, _ = checkout(page)
        require(f"{label}: Checkout opens the drawer", state == "ready", f"state {state}")
        url = page.eval("document.querySelector('#hygge-drawer iframe').src")
        page.key("Escape")
        status, body, _ = testlib.request("POST", base + "/sandbox/whop/pay", {"purchase_url": url})
        require(f"{label}: paid outside the drawer", status == 200, body.decode()[:100])
        chk = created(page)[0]["checkout_id"]
        for _ in range(100):
            status, body = call("GET", f"{base}/api/checkout/{chk}")
            if body.get("status") == "order_synced":
                break
            time.sleep(0.1)
        page.click('button[name="checkout"]')
        state = wait_state(page, ["order_synced", "error", "ready"], 15)
        text = page.eval("(document.getElementById('hygge-paid')||{}).textContent || ''")
        check(f"{label}: Checkout again shows the paid order, not a new checkout",
              state == "order_synced" and re.search(r"Paid .* #\d+", text) is not None and len(created(page)) == 1,
              f"{state} {text!r}, {len(created(page))} created")
        shot(page, "paid-elsewhere")
    finally:
        page.close()


def error_walk(browser, base, shot):
    label = "errors"
    page = browser.new_page(1280, 900)
    try:
        page.goto(base + "/sandbox/store")
        add_to_cart(page, 3)
        call("POST", base + "/sandbox/config", {"whop_latency_ms": 12000})
        try:
            started = time.time()
            state, _ = checkout(page)
            if state == "loading" or state is None:
                state = wait_state(page, ["error", "ready"], 20)
        finally:
            call("POST", base + "/sandbox/config", {"whop_latency_ms": 0})
        message = page.eval("(document.querySelector('#hygge-drawer .hg-status')||{}).textContent || ''")
        check(f"{label}: Whop unavailable → a clear message", state == "error" and "Whop" in message and
              "regular checkout" in message, f"{state} {message[:90]!r} after {time.time() - started:.1f} s")
        check(f"{label}: the message is announced (role=alert) and focus is on the fallback",
              page.eval("document.querySelector('#hygge-drawer .hg-status').getAttribute('role') === 'alert' && "
                        "document.activeElement.classList.contains('hg-fallback')"))
        shot(page, "whop-unavailable")
        page.mark_navigation()
        page.click("#hygge-drawer .hg-actions .hg-fallback")
        reached = page.wait("window.__walkMarker === undefined && document.readyState === 'complete' && "
                            "document.title === 'Shopify checkout'", 10)
        check(f"{label}: 'Continue to regular checkout' reaches the shop's own checkout", bool(reached),
              page.eval("location.pathname"))
        shot(page, "regular-checkout")
    finally:
        page.close()

    # A page on an origin that is no merchant's storefront: the API refuses it by CORS.
    class Foreign(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/cart.js"):
                body = json.dumps({"currency": "USD", "total_price": 100, "items": [
                    {"variant_id": 450789469002, "quantity": 1, "price": 100}]}).encode()
                kind = "application/json"
            else:
                body = (f'<!doctype html><title>Foreign</title><script>window.Shopify={{routes:{{root:"/"}}}}</script>'
                        f'<script src="{base}/embed/cart.js?shop={SHOP}"></script><form action="/checkout" method="post">'
                        f'<button name="checkout">Checkout</button></form>').encode()
                kind = "text/html"
            self.send_response(200); self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)

    foreign = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Foreign)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    page = browser.new_page(1280, 900)
    try:
        page.goto(f"http://127.0.0.1:{foreign.server_address[1]}/")
        state, _ = checkout(page)
        message = page.eval("(document.querySelector('#hygge-drawer .hg-status')||{}).textContent || ''")
        check(f"{label}: a foreign origin is refused by CORS (the drawer offers the regular checkout)",
              state == "error" and "couldn't be reached" in message, f"{state} {message[:60]!r}")
        shot(page, "foreign-origin")
    finally:
        page.close()
        foreign.shutdown(); foreign.server_close()


def bench(browser, base, store, runs, shopify_ms, whop_ms, shot):
    call("POST", base + "/sandbox/config", {"shopify_latency_ms": shopify_ms, "whop_latency_ms": whop_ms})
    page = browser.new_page(1280, 900)
    rows = []
    try:
        page.goto(store + "/sandbox/store")
        variants = page.eval("Array.prototype.map.call(document.querySelectorAll('button[name=\"add\"]'), function (b) { return +b.dataset.variant; })")
        for run in range(runs):
            # Cold: a variant whose price the server has not cached yet; warm: the same cart again.
            kind = "cold" if run < len(variants) else "warm"
            page.goto(store + "/sandbox/store")
            page.eval("fetch(Shopify.routes.root + 'cart/clear.js', {method: 'POST'}).then(function () { return 1; })", await_promise=True)
            page.goto(store + "/sandbox/store")
            add_to_cart(page, run % len(variants))
            state, ms = checkout(page)
            if state != "ready":
                check(f"bench run {run}: drawer ready", False, f"state {state}")
                continue
            t = page.eval("window.Hygge.timings")
            frame = page.wait("window.Hygge.timings.frame", 10)
            rows.append({"kind": kind, "total": ms, "cart": t["cart"] - t["click"], "create": t["created"] - t["cart"],
                         "plan": t["plan"] - t["created"], "frame": (frame - t["click"]) if frame else None})
            if run == 0:
                shot(page, "bench-drawer")
    finally:
        call("POST", base + "/sandbox/config", {"shopify_latency_ms": 0, "whop_latency_ms": 0})
        page.close()
    print(f"\n### Checkout click → drawer with plan ready (Shopify {shopify_ms} ms, Whop {whop_ms} ms emulated)\n")
    print("| runs | kind | p50 ms | max ms | cart.js ms (p50) | create-from-cart ms (p50) | get-plan ms (p50) | iframe loaded ms (p50) |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("cold", "warm"):
        sel = [r for r in rows if r["kind"] == kind]
        if not sel:
            continue
        med = lambda key: statistics.median([r[key] for r in sel if r[key] is not None])
        print(f"| {len(sel)} | {kind} | {med('total'):.0f} | {max(r['total'] for r in sel):.0f} | {med('cart'):.0f} | "
              f"{med('create'):.0f} | {med('plan'):.0f} | {med('frame'):.0f} |")
    check("bench: every run reached the ready drawer", len(rows) == runs, f"{len(rows)}/{runs}")
    return rows


def start_server(binary, work, name, env=None):
    """`hygge serve --sandbox` (HYGGE_FSYNC=no) on a free port, data and log in `work`; a testlib.Hygge."""
    try:
        return testlib.Hygge(binary, os.path.join(work, name + "-data"), os.path.join(work, name + ".log"),
                             env={"HYGGE_FSYNC": "no", **(env or {})})
    except testlib.ServerError as error:
        raise Stop(f"{name} never became ready") from error


def limit_walk(browser, binary, work, shot):
    """A merchant whose monthly limit is used up: a clear message and the regular checkout."""
    label = "limit"
    server = start_server(binary, work, "limit-server", {"HYGGE_SANDBOX_MONTHLY_LIMIT": "1"})
    base = server.base
    try:
        first = browser.new_page(1280, 900)
        try:
            first.goto(base + "/sandbox/store")
            add_to_cart(first, 5)
            state, _ = checkout(first)
            check(f"{label}: the first checkout takes the month's only slot", state == "ready", f"state {state}")
        finally:
            first.close()
        page = browser.new_page(1280, 900)
        try:
            page.goto(base + "/sandbox/store")
            add_to_cart(page, 6)
            state, _ = checkout(page)
            message = page.eval("(document.querySelector('#hygge-drawer .hg-status')||{}).textContent || ''")
            check(f"{label}: monthly limit reached → a clear message and the regular checkout",
                  state == "error" and "limit" in message and
                  page.eval("!!document.querySelector('#hygge-drawer .hg-actions .hg-fallback')"),
                  f"{state} {message[:80]!r}")
            shot(page, "limit-reached")
        finally:
            page.close()
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=".build/debug/hygge")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--artifacts", help="where screenshots go (kept); default a temporary directory")
    parser.add_argument("--bench", type=int, default=0, help="only measure, over N runs")
    parser.add_argument("--shopify-latency-ms", type=int, default=80)
    parser.add_argument("--whop-latency-ms", type=int, default=120)
    parser.add_argument("--bench-origin", choices=["alias", "same"], default="alias",
                        help="open the store on localhost (cross-origin to the API, as on Shopify) or on the API's origin")
    parser.add_argument("--time-limit", type=int, default=300, help="seconds before the walk gives up")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="hygge-browser-")
    artifacts = args.artifacts or os.path.join(work, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    counter = [0]

    def shot_for(prefix):
        def shot(page, name):
            counter[0] += 1
            path = os.path.join(artifacts, f"{counter[0]:02d}-{prefix}-{name}.png")
            try:
                page.screenshot(path)
            except Exception as error:
                print(f"     (screenshot {name} failed: {error})")
        return shot

    def on_alarm(*_):
        raise TimeoutError(f"the walk took longer than {args.time_limit} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.time_limit)

    server = start_server(args.bin, work, "server")
    base = server.base
    alias = base.replace("127.0.0.1", "localhost")
    browser = None
    try:
        profile = os.path.join(work, "chromium")
        os.makedirs(profile)
        browser = Browser(args.chromium, profile)
        if args.bench:
            bench(browser, base, alias if args.bench_origin == "alias" else base, args.bench, args.shopify_latency_ms, args.whop_latency_ms, shot_for("bench"))
        else:
            for name, walk in (("desktop", lambda: desktop_walk(browser, base, alias, shot_for("desktop"))),
                               ("phone", lambda: phone_walk(browser, base, shot_for("phone"))),
                               ("new tab", lambda: new_tab_walk(browser, base, shot_for("newtab"))),
                               ("reopen", lambda: reopen_walk(browser, base, shot_for("reopen"))),
                               ("errors", lambda: error_walk(browser, base, shot_for("errors"))),
                               ("limit", lambda: limit_walk(browser, args.bin, work, shot_for("limit")))):
                try:
                    walk()
                except Stop as stop:
                    if str(stop) not in failed:
                        check(f"{name}: {stop}", False)
                except Exception as error:
                    check(f"{name}: walk ran to the end", False, f"{type(error).__name__}: {error}")
                    if isinstance(error, TimeoutError) and "longer than" in str(error):
                        break
    except Exception as error:
        check("walk ran to the end", False, f"{type(error).__name__}: {error}")
    finally:
        signal.alarm(0)
        if browser:
            browser.close()
        server.stop()
    if failed:
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                with open(os.path.join(work, name)) as server_log:
                    print(f"--- {name} (tail)\n" + server_log.read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)
    if args.artifacts:
        print(f"screenshots in {artifacts}")
    print(f"browser: {len(passed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
