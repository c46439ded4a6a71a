/// The script tag Shopify injects (`/embed/cart.js?shop=S`, CONTRACT §2): dependency-free JavaScript that intercepts
/// the storefront's Checkout (forms posting to `/checkout`, `name="checkout"` buttons, links to `/checkout`), reads
/// the storefront's `/cart.js`, calls create-from-cart and get-plan, and shows the Hygge drawer: an accessible
/// dialog (`role="dialog"`, labelled, focus trapped, Escape closes) with the server-verified lines and total and the
/// Whop payment in an iframe, a new tab on request or when the frame does not load. It polls
/// `GET /api/checkout/{id}` until the checkout is paid (showing the Shopify order name), failed or expired. Every
/// error offers the shop's regular checkout. The drawer's `data-state` (`loading`, `ready`, `paid`, `order_synced`,
/// `failed`, `expired`, `error`, `empty`, `closed`) and `window.Hygge.timings` are for tests and measurements.
enum CartScript {
    /// Bump when the script changes; `?v=` with this value is served as immutable (the ETag covers the bytes too).
    static let version = "2"

    static let source = #"""
    /* Hygge cart.js v2: intercepts Checkout and pays with Whop in the Hygge drawer. No dependencies. */
    (function () {
      "use strict";
      if (window.Hygge && window.Hygge.version) return;
      var script = document.currentScript || document.querySelector('script[src*="/embed/cart.js"]');
      var src = new URL(script ? script.src : location.href, location.href);
      var API = src.origin;
      var SHOP = src.searchParams.get("shop") || (window.Shopify && window.Shopify.shop) || "";
      var ROOT = (window.Shopify && window.Shopify.routes && window.Shopify.routes.root) || "/";
      if (ROOT.charAt(ROOT.length - 1) !== "/") ROOT += "/";
      var EXP = { BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, VND: 0,
        VUV: 0, XAF: 0, XOF: 0, XPF: 0, BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3 };
      var TERMINAL = { order_synced: 1, payment_failed: 1, amount_mismatch: 1, expired: 1, refunded: 1, partially_refunded: 1 };
      var REQUEST_MS = 20000, FRAME_MS = 10000;
      var state = { open: false, busy: false, poll: null, frameTimer: null, trigger: null, lastFocus: null,
        checkout: null, cartKey: null, status: null, inerted: [], timings: {} };

      function now() { return window.performance && performance.now ? performance.now() : Date.now(); }
      function mark(name) { state.timings[name] = now(); }
      function money(m) {
        var e = EXP[m.currency] === undefined ? 2 : EXP[m.currency];
        var neg = m.amount < 0, s = String(Math.abs(m.amount));
        if (e > 0) { while (s.length <= e) s = "0" + s; s = s.slice(0, s.length - e) + "." + s.slice(s.length - e); }
        return (neg ? "-" : "") + s + " " + m.currency;
      }
      function el(tag, attrs, text) {
        var n = document.createElement(tag);
        for (var k in attrs || {}) n.setAttribute(k, attrs[k]);
        if (text !== undefined) n.textContent = text;
        return n;
      }
      function request(url, init) {
        var ctl = window.AbortController ? new AbortController() : null;
        var timer = ctl && setTimeout(function () { ctl.abort(); }, REQUEST_MS);
        if (ctl) init.signal = ctl.signal;
        return fetch(url, init).then(function (r) {
          clearTimeout(timer);
          return r.json().catch(function () { return {}; }).then(function (j) {
            if (!r.ok) {
              var e = j.error || {}, err = new Error(e.message || "Request failed (" + r.status + ")");
              err.code = e.code || "http_" + r.status; err.requestId = e.request_id; throw err;
            }
            return j;
          });
        }, function () {
          clearTimeout(timer);
          var err = new Error("network"); err.code = "network"; throw err;
        });
      }
      function api(path, body) {
        return request(API + path, body === undefined ? { method: "GET", cache: "no-store" } : {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
        });
      }

      var css = "#hygge-backdrop{position:fixed;inset:0;background:rgba(20,20,20,.5);z-index:2147483646}" +
        "#hygge-drawer{all:initial;position:fixed;top:0;right:0;bottom:0;height:100%;height:100dvh;width:440px;max-width:100%;" +
        "box-sizing:border-box;background:#fff;color:#1c1c1c;z-index:2147483647;box-shadow:-8px 0 30px rgba(0,0,0,.25);" +
        "display:flex;flex-direction:column;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;text-align:left}" +
        "#hygge-drawer[hidden],#hygge-backdrop[hidden]{display:none}" +
        "#hygge-drawer *{box-sizing:border-box;font:inherit;color:inherit;letter-spacing:normal;text-transform:none}" +
        "#hygge-drawer .hg-head{display:flex;justify-content:space-between;align-items:center;padding:14px 16px 14px 20px;border-bottom:1px solid #eee}" +
        "#hygge-drawer h2{margin:0;font-size:18px;font-weight:600}" +
        "#hygge-drawer .hg-body{padding:16px 20px 24px;overflow:auto;flex:1;display:flex;flex-direction:column;gap:12px}" +
        "#hygge-drawer table{width:100%;border-collapse:collapse;margin:0}#hygge-drawer caption{text-align:left;font-weight:600;padding-bottom:4px}" +
        "#hygge-drawer td{padding:6px 0;vertical-align:top;border:0}#hygge-drawer td.hg-amt{text-align:right;white-space:nowrap;padding-left:12px}" +
        "#hygge-drawer .hg-unit{display:block;color:#666;font-size:13px}" +
        "#hygge-drawer tr.hg-total td{border-top:1px solid #ddd;font-weight:700;padding-top:10px}" +
        "#hygge-drawer iframe{display:block;width:100%;min-height:380px;flex:1 0 380px;border:1px solid #e5e5e5;border-radius:8px;background:#fff}" +
        "#hygge-drawer button,#hygge-drawer a.hg-btn{display:inline-block;cursor:pointer;border-radius:6px;border:1px solid #1c1c1c;" +
        "background:#1c1c1c;color:#fff;padding:10px 14px;text-decoration:none;text-align:center;margin:4px 8px 0 0}" +
        "#hygge-drawer button.hg-secondary,#hygge-drawer a.hg-btn.hg-secondary{background:#fff;color:#1c1c1c}" +
        "#hygge-drawer button.hg-close{background:none;color:#1c1c1c;border:1px solid transparent;font-size:24px;line-height:1;padding:4px 10px;margin:0}" +
        "#hygge-drawer a{color:#1c4fd6;text-decoration:underline}" +
        "#hygge-drawer :focus-visible{outline:3px solid #1c4fd6;outline-offset:2px}" +
        "#hygge-drawer .hg-status{margin:0;padding:10px 12px;border-radius:6px;background:#f4f1ea}" +
        "#hygge-drawer .hg-note{margin:0;padding:10px 12px;border-radius:6px;background:#fff6dd;color:#5c4400}" +
        "#hygge-drawer .hg-error{background:#fdecec;color:#8a1c1c}" +
        "#hygge-drawer .hg-paid{background:#e7f6ea;color:#1d5e2c;font-weight:600;font-size:17px}" +
        "#hygge-drawer .hg-small{font-size:13px;color:#555;margin:0}" +
        "#hygge-drawer .hg-ref{display:block;font-size:12px;color:#777;margin-top:6px}" +
        "@media (max-width:480px){#hygge-drawer{width:100%;box-shadow:none}#hygge-drawer .hg-body{padding:12px 14px 20px}" +
        "#hygge-drawer .hg-head{padding:10px 6px 10px 14px}" +
        "#hygge-drawer iframe{min-height:420px}}";

      function build() {
        if (document.getElementById("hygge-drawer")) return;
        var style = el("style", { id: "hygge-style" }); style.textContent = css; document.head.appendChild(style);
        var backdrop = el("div", { id: "hygge-backdrop", hidden: "" });
        backdrop.addEventListener("click", close);
        var drawer = el("div", { id: "hygge-drawer", role: "dialog", "aria-modal": "true", "aria-labelledby": "hygge-title",
          "aria-describedby": "hygge-body", hidden: "", tabindex: "-1", "data-state": "closed" });
        var head = el("div", { "class": "hg-head" });
        head.appendChild(el("h2", { id: "hygge-title" }, "Checkout"));
        var x = el("button", { "class": "hg-close", "aria-label": "Close checkout", type: "button" }, "\u00d7");
        x.addEventListener("click", close);
        head.appendChild(x);
        drawer.appendChild(head);
        drawer.appendChild(el("div", { "class": "hg-body", id: "hygge-body" }));
        drawer.addEventListener("keydown", function (e) {
          if (e.key !== "Tab") return;
          var f = focusables();
          if (!f.length) { e.preventDefault(); drawer.focus(); return; }
          var first = f[0], last = f[f.length - 1], active = document.activeElement;
          if (e.shiftKey && (active === first || active === drawer)) { e.preventDefault(); last.focus(); }
          else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
        });
        document.body.appendChild(backdrop);
        document.body.appendChild(drawer);
      }
      function drawer() { return document.getElementById("hygge-drawer"); }
      function body() { return document.getElementById("hygge-body"); }
      function focusables() {
        var all = drawer().querySelectorAll("button,a[href],iframe,input,select,textarea,[tabindex]:not([tabindex='-1'])");
        return Array.prototype.filter.call(all, function (n) { return !n.disabled && n.getClientRects().length; });
      }
      function setState(s) {
        var d = drawer(); d.setAttribute("data-state", s);
        d.setAttribute("aria-busy", s === "loading" ? "true" : "false");
        try { document.dispatchEvent(new CustomEvent("hygge:state", { detail: { state: s, timings: state.timings } })); } catch (e) {}
      }
      function open() {
        build();
        if (!state.open) {
          state.lastFocus = document.activeElement;
          state.inerted = [];
          Array.prototype.forEach.call(document.body.children, function (n) {
            if (n.id === "hygge-drawer" || n.id === "hygge-backdrop" || n.tagName === "SCRIPT" || n.inert) return;
            n.inert = true; state.inerted.push(n);
          });
        }
        document.getElementById("hygge-backdrop").hidden = false;
        var d = drawer(); d.hidden = false;
        state.open = true;
        d.focus();
      }
      function close() {
        stopPoll();
        var d = drawer(); if (d) { d.hidden = true; d.setAttribute("data-state", "closed"); }
        var b = document.getElementById("hygge-backdrop"); if (b) b.hidden = true;
        state.inerted.forEach(function (n) { n.inert = false; }); state.inerted = [];
        state.open = false;
        if (state.status === "order_synced") { location.href = ROOT; return; }
        if (state.lastFocus && state.lastFocus.focus && document.contains(state.lastFocus)) state.lastFocus.focus();
      }
      document.addEventListener("keydown", function (e) {
        if (state.open && (e.key === "Escape" || e.key === "Esc")) { e.preventDefault(); e.stopPropagation(); close(); }
      }, true);
      document.addEventListener("focusin", function (e) {
        if (!state.open) return;
        var d = drawer();
        if (d && !d.contains(e.target)) { var f = focusables(); (f[0] || d).focus(); }
      }, true);

      function clear() { var b = body(); b.textContent = ""; return b; }
      function status(text, cls, role) {
        var s = body().querySelector(".hg-status");
        if (!s) { s = el("p", { "class": "hg-status" }); body().insertBefore(s, body().querySelector(":scope > .hg-pay")); }
        s.className = "hg-status" + (cls ? " " + cls : "");
        s.setAttribute("role", role || "status");
        s.textContent = text;
        return s;
      }
      function actions(list) {
        var p = el("p", { "class": "hg-actions" });
        list.forEach(function (a) { p.appendChild(a); });
        body().appendChild(p);
        return p;
      }
      function button(text, cls, fn) {
        var b = el("button", { type: "button", "class": cls || "" }, text);
        b.addEventListener("click", fn);
        return b;
      }
      function backLink(primary) {
        var a = el("a", { href: ROOT, "class": primary ? "hg-btn" : "hg-btn hg-secondary" }, "Back to the store");
        a.addEventListener("click", function (e) { if (state.status !== "order_synced") { e.preventDefault(); close(); } });
        return a;
      }
      function fallbackButton(primary) {
        return button("Continue to regular checkout", primary ? "hg-fallback" : "hg-fallback hg-secondary", function () { fallback(); });
      }
      var MESSAGES = {
        monthly_limit_reached: "This shop has reached its limit of Hygge payments for this month, so it can't take this payment here.",
        whop_unavailable: "The payment provider (Whop) isn't answering right now.",
        shopify_unavailable: "The shop's prices couldn't be checked right now.",
        variant_not_found: "An item in your cart is no longer for sale. Please review your cart.",
        merchant_not_ready: "This shop hasn't finished setting up Hygge payments yet.",
        unknown_shop: "This shop doesn't take Hygge payments.",
        checkout_expired: "This checkout expired before it was paid.",
        unknown_checkout: "This checkout could not be found.",
        invalid_request: "This cart can't be paid with Hygge (at most 100 lines and 999 of each item).",
        overloaded: "The payment service is busy right now.",
        network: "The payment service couldn't be reached. Check your connection.",
        cart_unreadable: "Your cart couldn't be read."
      };
      function fail(err) {
        stopPoll(); removeFrame();
        var s = status((MESSAGES[err.code] || err.message || "Something went wrong.") + " You can still pay with the regular checkout.", "hg-error", "alert");
        if (err.requestId) s.appendChild(el("span", { "class": "hg-ref" }, "Reference: " + err.requestId));
        actions([fallbackButton(true), backLink()]);
        setState("error");
        var f = body().querySelector(".hg-fallback"); if (f) f.focus();
      }
      function fallback() {
        var t = state.trigger;
        window.__hyggeBypass = true;
        stopPoll();
        if (t && t.tagName === "A" && t.href) { location.href = t.href; return; }
        var form = t && (t.tagName === "FORM" ? t : t.form);
        if (form) {
          var submitter = t.tagName === "FORM" ? null : t;
          if (form.requestSubmit && submitter && submitter.type === "submit") { form.requestSubmit(submitter); return; }
          if (submitter && submitter.name) form.appendChild(el("input", { type: "hidden", name: submitter.name, value: submitter.value || "" }));
          form.submit(); return;
        }
        location.href = ROOT + "checkout";
      }
      function render(chk) {
        var b = clear();
        var t = el("table");
        t.appendChild(el("caption", {}, "Your order"));
        var tb = el("tbody");
        chk.line_items.forEach(function (l) {
          var tr = el("tr", { "class": "hg-line" });
          var name = el("td", {}, l.quantity + " \u00d7 " + l.title);
          if (l.quantity > 1) name.appendChild(el("span", { "class": "hg-unit" }, money({ amount: l.unit_price, currency: chk.total.currency }) + " each"));
          tr.appendChild(name);
          tr.appendChild(el("td", { "class": "hg-amt" }, money({ amount: l.unit_price * l.quantity, currency: chk.total.currency })));
          tb.appendChild(tr);
        });
        var tot = el("tr", { "class": "hg-total" });
        tot.appendChild(el("td", {}, "Total"));
        tot.appendChild(el("td", { "class": "hg-amt", id: "hygge-total" }, money(chk.total)));
        tb.appendChild(tot); t.appendChild(tb);
        b.appendChild(t);
        if (chk.client_total_mismatch) {
          var n = el("div", { "class": "hg-note", role: "alert" });
          n.appendChild(el("p", { style: "margin:0 0 6px" }, "Prices changed since these items were added to your cart. The total above is the shop's current price, and it is what you will pay."));
          n.appendChild(fallbackButton(false));
          b.appendChild(n);
        }
      }
      function removeFrame() {
        if (state.frameTimer) { clearTimeout(state.frameTimer); state.frameTimer = null; }
        var p = body() && body().querySelector(".hg-pay"); if (p) p.remove();
      }
      function newTab(url) {
        var w = window.open(url, "_blank", "noopener");
        var box = body().querySelector(".hg-pay");
        if (box) {
          if (state.frameTimer) { clearTimeout(state.frameTimer); state.frameTimer = null; }
          status("Waiting for your payment in the other tab\u2026");
          box.textContent = "";
          box.appendChild(el("p", { "class": "hg-small" }, "Complete the payment in the new tab. This window updates by itself when you have paid."));
          var again = el("a", { href: url, target: "_blank", rel: "noopener", "class": "hg-tab" }, "Open the payment page again");
          box.appendChild(again);
        }
        pollSoon(1500);
        return w;
      }
      function showPlan(plan) {
        removeFrame();
        var box = el("div", { "class": "hg-pay" });
        var frame = el("iframe", { src: plan.purchase_url, title: "Whop payment", allow: "payment *",
          referrerpolicy: "strict-origin-when-cross-origin" });
        var loaded = false;
        frame.addEventListener("load", function () { loaded = true; mark("frame"); });
        state.frameTimer = setTimeout(function () { if (!loaded && state.open) newTabOffer(true); }, FRAME_MS);
        box.appendChild(frame);
        var p = el("p", { "class": "hg-small" }, "Payment form not showing? ");
        var link = el("a", { href: plan.purchase_url, target: "_blank", rel: "noopener", "class": "hg-tab" }, "Open it in a new tab");
        link.addEventListener("click", function (e) { e.preventDefault(); newTab(plan.purchase_url); });
        p.appendChild(link);
        box.appendChild(p);
        body().appendChild(box);
        status("Pay securely with Whop below.");
        function newTabOffer() {
          var s = status("The payment form is taking long to load.", "", "status");
          s.appendChild(el("br"));
          s.appendChild(button("Open the payment page in a new tab", "", function () { newTab(plan.purchase_url); }));
        }
      }
      function stopPoll() { if (state.poll) { clearTimeout(state.poll); state.poll = null; } }
      function pollSoon(ms) {
        stopPoll();
        if (!state.checkout || !state.open) return;
        state.poll = setTimeout(poll, ms);
      }
      var pollDelay = 1000;
      function poll() {
        state.poll = null;
        var id = state.checkout && state.checkout.checkout_id;
        if (!id || !state.open) return;
        api("/api/checkout/" + encodeURIComponent(id)).then(function (c) {
          pollDelay = 1000; show(c);
          if (!TERMINAL[c.status]) pollSoon(c.status === "order_sync_failed" ? 3000 : pollDelay);
        }, function (err) {
          if (err.code === "unknown_checkout") { fail(err); return; }
          pollDelay = Math.min(pollDelay * 2, 8000); pollSoon(pollDelay);
        });
      }
      function show(c) {
        if (state.status === c.status) return;
        state.status = c.status;
        var s = c.status;
        if (s === "open" || s === "awaiting_payment") return;
        if (s === "paid" || s === "order_sync_failed") {
          removeFrame();
          status(s === "paid" ? "Paid \u2014 creating your order\u2026" : "Paid \u2014 the shop is still recording your order. You don't need to pay again.", "hg-paid");
          setState("paid");
        } else if (s === "order_synced") {
          removeFrame();
          var st = status("Paid \u2014 order " + c.shopify_order_name, "hg-paid");
          st.setAttribute("id", "hygge-paid");
          body().appendChild(el("p", { "class": "hg-small" }, "Thank you! The shop has your order " + c.shopify_order_name + " and will email you a confirmation."));
          actions([backLink(true)]);
          setState("order_synced");
          clearCart();
          var back = body().querySelector(".hg-actions a"); if (back) back.focus();
        } else if (s === "refunded" || s === "partially_refunded") {
          removeFrame();
          status(s === "refunded" ? "This order was refunded." : "This order was partly refunded.", "hg-paid");
          actions([backLink()]); setState(s);
        } else if (s === "payment_failed") {
          removeFrame(); state.checkout = null; state.cartKey = null;
          status("The payment didn't go through. Nothing was charged by Hygge's shop.", "hg-error", "alert");
          actions([button("Try again", "", function () { start(state.trigger); }), fallbackButton(false), backLink()]);
          setState("failed");
        } else if (s === "expired") {
          removeFrame(); state.checkout = null; state.cartKey = null;
          status("This checkout expired before it was paid.", "hg-error", "alert");
          actions([button("Start again", "", function () { start(state.trigger); }), fallbackButton(false), backLink()]);
          setState("expired");
        } else if (s === "amount_mismatch") {
          removeFrame();
          status("The amount paid didn't match this order, so no order was created. The shop has been told; please contact them.", "hg-error", "alert");
          actions([backLink()]); setState("failed");
        }
      }
      function clearCart() {
        fetch(ROOT + "cart/clear.js", { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } }).catch(function () {});
      }
      function readCart() {
        return request(ROOT + "cart.js", { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
          .catch(function (err) { if (err.code !== "network") err.code = "cart_unreadable"; throw err; });
      }
      function start(trigger) {
        if (state.busy) return;
        state.busy = true;
        state.trigger = trigger || null;
        state.timings = {}; mark("click");
        open();
        clear();
        status("Preparing your checkout\u2026");
        setState("loading");
        readCart().then(function (cart) {
          mark("cart");
          if (!cart.items || !cart.items.length) { var e = new Error("empty"); e.code = "empty"; throw e; }
          var items = cart.items.map(function (i) { return { variant_id: i.variant_id, quantity: i.quantity }; });
          var key = JSON.stringify([cart.currency, items]);
          if (state.checkout && state.cartKey === key && !TERMINAL[state.status]) return state.checkout;
          state.status = null;
          return api("/api/checkout/create-from-cart", {
            shop: SHOP, currency: cart.currency, items: items,
            client_total: { amount: cart.total_price, currency: cart.currency }
          }).then(function (chk) { state.cartKey = key; return chk; });
        }).then(function (chk) {
          mark("created");
          if (!state.open) throw { code: "closed" };
          state.checkout = chk; render(chk);
          return api("/api/checkout/get-plan", { checkout_id: chk.checkout_id });
        }).then(function (plan) {
          mark("plan");
          state.busy = false;
          if (!state.open) return;
          // Already paid (or past it): the status endpoint has the order name and the rest.
          if (plan.status && plan.status !== "open" && plan.status !== "awaiting_payment") { state.status = null; pollSoon(0); return; }
          showPlan(plan); setState("ready"); pollSoon(1500);
        }).catch(function (err) {
          state.busy = false;
          if (err.code === "closed" || !state.open) return;
          if (err.code === "empty") {
            status("Your cart is empty.", "", "status"); actions([backLink(true)]); setState("empty"); return;
          }
          if (err.code === "checkout_expired" || err.code === "unknown_checkout") { state.checkout = null; state.cartKey = null; }
          fail(err);
        });
      }
      document.addEventListener("visibilitychange", function () { if (!document.hidden && state.open && state.poll) pollSoon(0); });
      window.addEventListener("focus", function () { if (state.open && state.poll) pollSoon(0); });

      function isCheckoutPath(url) {
        try { return /\/checkout\/?$/.test(new URL(url, location.href).pathname); } catch (e) { return false; }
      }
      function checkoutControl(t) {
        var c = t && t.closest && t.closest('button[name="checkout"],input[name="checkout"],a[href]');
        if (!c || c.closest("#hygge-drawer")) return null;
        if (c.tagName === "A") return isCheckoutPath(c.getAttribute("href")) ? c : null;
        return c.disabled ? null : c;
      }
      window.addEventListener("click", function (e) {
        if (window.__hyggeBypass || e.defaultPrevented || e.button !== 0) return;
        var c = checkoutControl(e.target);
        if (!c || (c.tagName === "A" && (e.metaKey || e.ctrlKey || e.shiftKey))) return;
        e.preventDefault(); e.stopPropagation(); start(c);
      }, true);
      document.addEventListener("submit", function (e) {
        if (window.__hyggeBypass) return;
        var f = e.target;
        if (!f || f.tagName !== "FORM") return;
        var s = e.submitter;
        var byAction = isCheckoutPath(f.getAttribute("action") || "");
        var byButton = s ? s.getAttribute("name") === "checkout" : !!f.querySelector('[name="checkout"]') && !f.querySelector('[name="update"]');
        if (!byAction && !byButton) return;
        e.preventDefault(); e.stopPropagation(); start(s && s.getAttribute("name") === "checkout" ? s : f);
      }, true);
      window.Hygge = { version: "2", open: function () { start(null); }, close: close,
        get timings() { return state.timings; }, get state() { var d = drawer(); return d ? d.getAttribute("data-state") : "closed"; } };
    })();
    """#
}
