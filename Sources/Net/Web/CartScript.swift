/// The script tag Shopify injects (`/embed/cart.js?shop=S`): dependency-free, opens the Hygge drawer on Checkout.
enum CartScript {
    /// Bump when the script changes (part of the ETag).
    static let version = "1"

    static let source = #"""
    /* Hygge cart.js v1 — intercepts Checkout and pays with Whop in the Hygge drawer. */
    (function () {
      "use strict";
      if (window.__hyggeLoaded) return;
      window.__hyggeLoaded = true;
      var script = document.currentScript || document.querySelector('script[src*="/embed/cart.js"]');
      var src = new URL(script ? script.src : location.href, location.href);
      var API = src.origin;
      var SHOP = src.searchParams.get("shop") || (window.Shopify && window.Shopify.shop) || "";
      var ROOT = (window.Shopify && window.Shopify.routes && window.Shopify.routes.root) || "/";
      var EXP = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3 };
      var state = { open: false, poll: null, lastFocus: null, fallback: null, checkout: null };

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
      function api(path, body) {
        return fetch(API + path, body === undefined ? { method: "GET" } : {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
        }).then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (j) {
            if (!r.ok) { var err = new Error((j.error && j.error.message) || "Request failed"); err.code = j.error && j.error.code; throw err; }
            return j;
          });
        });
      }

      var css = "#hygge-backdrop{position:fixed;inset:0;background:rgba(20,20,20,.45);z-index:2147483646}" +
        "#hygge-drawer{position:fixed;top:0;right:0;height:100%;width:min(440px,100%);background:#fff;color:#1c1c1c;" +
        "z-index:2147483647;box-shadow:-8px 0 30px rgba(0,0,0,.2);display:flex;flex-direction:column;font:15px/1.45 system-ui,sans-serif}" +
        "#hygge-drawer header{display:flex;justify-content:space-between;align-items:center;padding:16px 20px;border-bottom:1px solid #eee}" +
        "#hygge-drawer h2{margin:0;font-size:18px}#hygge-drawer .hg-body{padding:16px 20px;overflow:auto;flex:1}" +
        "#hygge-drawer table{width:100%;border-collapse:collapse}#hygge-drawer td{padding:6px 0;vertical-align:top}" +
        "#hygge-drawer td.hg-amt{text-align:right;white-space:nowrap}#hygge-drawer .hg-total td{border-top:1px solid #ddd;font-weight:600}" +
        "#hygge-drawer iframe{width:100%;height:340px;border:1px solid #eee;border-radius:8px;margin-top:12px}" +
        "#hygge-drawer button{font:inherit;cursor:pointer;border-radius:6px;border:1px solid #1c1c1c;background:#1c1c1c;color:#fff;padding:10px 14px}" +
        "#hygge-drawer button.hg-close{background:none;color:#1c1c1c;border:none;font-size:22px;padding:4px 8px}" +
        "#hygge-drawer .hg-status{margin:12px 0;padding:10px;border-radius:6px;background:#f4f1ea}" +
        "#hygge-drawer .hg-error{background:#fdecec;color:#8a1c1c}#hygge-drawer .hg-paid{background:#e7f6ea;color:#1d5e2c;font-weight:600}";

      function build() {
        if (document.getElementById("hygge-drawer")) return;
        var style = el("style"); style.textContent = css; document.head.appendChild(style);
        var backdrop = el("div", { id: "hygge-backdrop", hidden: "" });
        backdrop.addEventListener("click", close);
        var drawer = el("div", { id: "hygge-drawer", role: "dialog", "aria-modal": "true", "aria-labelledby": "hygge-title", hidden: "", tabindex: "-1" });
        var header = el("header");
        header.appendChild(el("h2", { id: "hygge-title" }, "Checkout"));
        var x = el("button", { "class": "hg-close", "aria-label": "Close checkout", type: "button" }, "\u00d7");
        x.addEventListener("click", close);
        header.appendChild(x);
        drawer.appendChild(header);
        drawer.appendChild(el("div", { "class": "hg-body", id: "hygge-body", "aria-live": "polite" }));
        drawer.addEventListener("keydown", function (e) {
          if (e.key === "Escape") { e.preventDefault(); close(); return; }
          if (e.key !== "Tab") return;
          var f = drawer.querySelectorAll("button,a[href],iframe,input,[tabindex]:not([tabindex='-1'])");
          if (!f.length) return;
          var first = f[0], last = f[f.length - 1];
          if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
          else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
        });
        document.body.appendChild(backdrop);
        document.body.appendChild(drawer);
      }
      function body() { return document.getElementById("hygge-body"); }
      function open() {
        build();
        state.lastFocus = document.activeElement;
        document.getElementById("hygge-backdrop").hidden = false;
        var d = document.getElementById("hygge-drawer"); d.hidden = false; d.focus();
        state.open = true;
      }
      function close() {
        if (state.poll) { clearInterval(state.poll); state.poll = null; }
        var d = document.getElementById("hygge-drawer"); if (d) d.hidden = true;
        var b = document.getElementById("hygge-backdrop"); if (b) b.hidden = true;
        state.open = false;
        if (state.lastFocus && state.lastFocus.focus) state.lastFocus.focus();
      }
      function status(text, cls) {
        var s = body().querySelector(".hg-status");
        if (!s) { s = el("div", { "class": "hg-status", role: "status" }); body().appendChild(s); }
        s.className = "hg-status" + (cls ? " " + cls : "");
        s.textContent = text;
        return s;
      }
      function fail(err) {
        var messages = {
          monthly_limit_reached: "This shop can't take Hygge payments right now.",
          whop_unavailable: "The payment provider didn't answer.",
          shopify_unavailable: "The shop didn't answer.",
          variant_not_found: "An item in your cart is no longer available.",
          merchant_not_ready: "This shop can't take Hygge payments yet."
        };
        var s = status((messages[err.code] || err.message || "Something went wrong.") + " You can use the regular checkout instead.", "hg-error");
        var b = el("button", { type: "button", "class": "hg-fallback" }, "Continue to regular checkout");
        b.addEventListener("click", function () { close(); fallback(); });
        s.appendChild(el("br")); s.appendChild(b);
      }
      function fallback() {
        window.__hyggeBypass = true;
        if (state.fallback && state.fallback.submit) state.fallback.submit(); else location.href = ROOT + "checkout";
      }
      function render(chk) {
        var b = body(); b.textContent = "";
        var t = el("table", { "aria-label": "Order summary" });
        chk.line_items.forEach(function (l) {
          var tr = el("tr");
          tr.appendChild(el("td", {}, l.quantity + " \u00d7 " + l.title));
          tr.appendChild(el("td", { "class": "hg-amt" }, money({ amount: l.unit_price * l.quantity, currency: chk.total.currency })));
          t.appendChild(tr);
        });
        var tot = el("tr", { "class": "hg-total" });
        tot.appendChild(el("td", {}, "Total"));
        tot.appendChild(el("td", { "class": "hg-amt", id: "hygge-total" }, money(chk.total)));
        t.appendChild(tot);
        b.appendChild(t);
        if (chk.client_total_mismatch) b.appendChild(el("p", { "class": "hg-note" }, "Prices were updated from the shop."));
      }
      function showPlan(plan) {
        var b = body();
        var frame = el("iframe", { src: plan.purchase_url, title: "Whop payment", allow: "payment" });
        b.appendChild(frame);
        var link = el("a", { href: plan.purchase_url, target: "_blank", rel: "noopener" }, "Open the payment page in a new tab");
        var p = el("p"); p.appendChild(link); b.appendChild(p);
        status("Waiting for payment\u2026");
      }
      function watch(id) {
        state.poll = setInterval(function () {
          api("/api/checkout/" + encodeURIComponent(id)).then(function (c) {
            if (c.status === "paid" || c.status === "order_synced" || c.status === "order_sync_failed") {
              var text = "Paid" + (c.shopify_order_name ? " \u2014 order " + c.shopify_order_name : " \u2014 creating your order\u2026");
              status(text, "hg-paid");
              var fr = body().querySelector("iframe"); if (fr && c.shopify_order_name) fr.remove();
              if (c.shopify_order_name) {
                clearInterval(state.poll); state.poll = null;
                var back = el("a", { href: ROOT }, "Back to the store"); var p = el("p"); p.appendChild(back); body().appendChild(p);
              }
            } else if (c.status === "payment_failed") { status("The payment failed. You can try again.", "hg-error"); }
            else if (c.status === "expired") { clearInterval(state.poll); fail({ message: "This checkout expired." }); }
            else if (c.status === "amount_mismatch") { clearInterval(state.poll); fail({ message: "The payment did not match the order." }); }
          }).catch(function () {});
        }, 1000);
      }
      function start(form) {
        state.fallback = form || null;
        open();
        body().textContent = "";
        status("Preparing your checkout\u2026");
        fetch(ROOT + "cart.js", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (cart) {
          if (!cart.items || !cart.items.length) throw new Error("Your cart is empty.");
          return api("/api/checkout/create-from-cart", {
            shop: SHOP, currency: cart.currency,
            items: cart.items.map(function (i) { return { variant_id: i.variant_id, quantity: i.quantity }; }),
            client_total: { amount: cart.total_price, currency: cart.currency }
          });
        }).then(function (chk) {
          state.checkout = chk; render(chk);
          return api("/api/checkout/get-plan", { checkout_id: chk.checkout_id });
        }).then(function (plan) { showPlan(plan); watch(plan.checkout_id); }).catch(fail);
      }
      function isCheckoutForm(f) {
        var a = (f.getAttribute("action") || "");
        return /\/checkout\/?$/.test(a) || !!f.querySelector('[name="checkout"]');
      }
      document.addEventListener("submit", function (e) {
        if (window.__hyggeBypass) return;
        var f = e.target;
        if (f && f.tagName === "FORM" && isCheckoutForm(f)) { e.preventDefault(); e.stopPropagation(); start(f); }
      }, true);
      document.addEventListener("click", function (e) {
        if (window.__hyggeBypass) return;
        var t = e.target && e.target.closest && e.target.closest('[name="checkout"],a[href$="/checkout"]');
        if (!t || (t.closest("#hygge-drawer"))) return;
        e.preventDefault(); e.stopPropagation(); start(t.form || t.closest("form"));
      }, true);
      window.Hygge = { open: start, close: close, version: "1" };
    })();
    """#
}
