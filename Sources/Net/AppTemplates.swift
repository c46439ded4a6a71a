/// The merchant app's Mustache templates. `{{…}}` HTML-escapes; `{{{body}}}` is used only for the already rendered
/// page inside the layout.
enum AppTemplates {
    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Hygge</title>
        <link rel="stylesheet" href="/assets/hygge.css">
        <script src="/assets/hygge.js" defer></script>
        </head>
        <body>
        <header class="top">
          <span class="brand">hygge</span>
          {{#shop}}<span class="shop">{{shop}}</span>{{/shop}}
          {{#nav}}
          <nav>
            <a href="/app"{{#navDashboard}} aria-current="page"{{/navDashboard}}>Dashboard</a>
            <a href="/app/integrations/whop"{{#navWhop}} aria-current="page"{{/navWhop}}>Integrations → Whop</a>
            <a href="/app/settings"{{#navSettings}} aria-current="page"{{/navSettings}}>Settings</a>
          </nav>
          {{/nav}}
        </header>
        <main>
        {{#flash}}<p class="flash" role="status">{{flash}}</p>{{/flash}}
        {{{body}}}
        </main>
        </body>
        </html>
        """

    static let wizard = """
        <section class="card">
          <h1>Connect Whop</h1>
          <p>Paste your Whop <strong>company</strong> API key. Hygge checks it with Whop before saving it;
          payments go straight to your Whop account.</p>
          <form method="post" action="/app/whop-key" class="wizard">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <label for="api_key">Whop company API key</label>
            <input id="api_key" name="api_key" type="password" autocomplete="off" spellcheck="false"
              placeholder="apik_…" required{{#failed}} aria-invalid="true" aria-describedby="key-error"{{/failed}}>
            <button type="submit">Connect</button>
          </form>
          {{#failed}}
          <div id="key-error" class="error" role="alert">
            <p><strong>This key didn't validate</strong></p>
            <p>Double-check:</p>
            <ul class="checks">
              <li>You're under <strong>Company API Keys</strong>, not personal (user) keys</li>
              <li>The role is <strong>Admin</strong> (or has explicit read+create permissions on products/plans/payments)</li>
              <li>You copied the entire string with no leading/trailing whitespace</li>
            </ul>
          </div>
          {{/failed}}
          {{#unavailable}}<p class="error" role="alert">Whop did not answer; please try again in a moment.</p>{{/unavailable}}
          {{#inUse}}
          <div id="key-error" class="error" role="alert" data-code="whop_company_in_use">
            <p><strong>This Whop company is already connected to another shop</strong></p>
            <p>Whop sends a company's payment events to one shop, so each shop needs its own Whop company.
            Create a separate Whop company for this shop and paste its company API key, or disconnect the other
            shop first (uninstall Hygge there).</p>
          </div>
          {{/inUse}}
          <p class="hint">Find it at whop.com/dashboard/developer → Company API Keys → Create, role Admin,
          named “Hygge Integration”. The webhook signing secret comes later, on Integrations → Whop.</p>
        </section>
        """

    static let dashboard = """
        <h1>Dashboard</h1>
        <section class="status card">
          <h2>Status</h2>
          <ul class="status-list">
            <li>Shopify app: {{#installed}}<span class="ok">installed</span>{{/installed}}{{^installed}}<span class="bad">not installed</span>{{/installed}}</li>
            <li>Whop key: {{#fingerprint}}<span class="ok">connected</span> <code>{{fingerprint}}</code> ({{companyID}}){{/fingerprint}}{{^fingerprint}}<span class="bad">missing</span> — <a href="/app">connect Whop</a>{{/fingerprint}}{{#elsewhere}} — <span class="bad" id="company-elsewhere">this Whop company is now connected to another shop</span>; <a href="/app/settings">paste a key of this shop's own company</a>{{/elsewhere}}</li>
            <li>Webhook secret: {{#secretSet}}<span class="ok">set</span>{{/secretSet}}{{^secretSet}}<span class="bad">missing</span> — <a href="/app/integrations/whop">add it</a>{{/secretSet}}</li>
            <li>Checkouts: {{#ready}}<span class="ok">taking payments</span>{{/ready}}{{^ready}}<span class="bad">not ready</span>{{/ready}}</li>
          </ul>
        </section>
        <section class="card">
          <h2>This month ({{month}})</h2>
          <dl class="figures">
            <div><dt>Transactions</dt><dd id="paid">{{paid}}</dd></div>
            <div><dt>Gross</dt><dd>{{gross}}</dd></div>
            <div><dt>Hygge fees (0.5%)</dt><dd>{{fees}}</dd></div>
            <div><dt>Monthly limit</dt><dd>{{used}} of {{limit}} used{{#reserved}} ({{reserved}} reserved){{/reserved}}</dd></div>
          </dl>
          <p><a href="/api/merchant/transactions?month={{month}}">Transactions (JSON)</a></p>
        </section>
        <section class="card">
          <h2>Order syncs that failed</h2>
          {{^failed}}<p>None — every paid checkout is in Shopify.</p>{{/failed}}
          {{#failed}}
          <form method="post" action="/app/orders/{{id}}/retry-sync" class="row">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <code>{{id}}</code> <span>{{total}}</span> <span class="bad">{{error}}</span>
            <button type="submit">Retry</button>
          </form>
          {{/failed}}
        </section>
        <section class="card" id="failed-refunds">
          <h2>Refunds that failed</h2>
          <p class="hint">Refunds made in Shopify admin are passed on to Whop. When Whop refuses one, the buyer has not
          been refunded yet.</p>
          {{^refunds}}<p>None — every Shopify refund reached Whop.</p>{{/refunds}}
          {{#refunds}}
          <form method="post" action="/app/orders/{{id}}/retry-refund" class="row" data-code="{{code}}">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <code>{{id}}</code> <span>{{order}}</span> <span>{{amount}}</span> <span class="bad">{{reason}}</span>
            <code>{{code}}</code>
            <button type="submit">Retry refund</button>
          </form>
          {{#ambiguous}}<p class="hint">Whop did not answer, so it may have refunded anyway: check this payment in Whop before retrying. If the refund is there, this row clears itself when Whop's refund event arrives.</p>{{/ambiguous}}
          {{/refunds}}
        </section>
        <section class="card">
          <h2>Recent checkouts</h2>
          {{^checkouts}}<p>No checkouts yet.</p>{{/checkouts}}
          {{#hasCheckouts}}
          <table>
            <thead><tr><th>Checkout</th><th>Created</th><th>Total</th><th>Status</th><th>Order</th></tr></thead>
            <tbody>
            {{#checkouts}}
              <tr><td><code>{{id}}</code></td><td>{{created}}</td><td>{{total}}</td><td><span class="status-{{status}}">{{status}}</span></td><td>{{order}}</td></tr>
            {{/checkouts}}
            </tbody>
          </table>
          {{/hasCheckouts}}
        </section>
        """

    static let whop = """
        <h1>Integrations → Whop</h1>
        <section class="card">
          <h2>1. Create the webhook in Whop</h2>
          <p>In the Whop developer dashboard, add a webhook for payment and refund events pointing at:</p>
          <div class="copy">
            <input id="webhook-url" type="text" readonly value="{{webhookURL}}" aria-label="Webhook URL">
            <button type="button" data-copy="webhook-url">Copy</button>
          </div>
        </section>
        <section class="card">
          <h2>2. Paste its signing secret</h2>
          <form method="post" action="/app/webhook-secret">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <label for="secret">Webhook signing secret</label>
            <input id="secret" name="secret" type="password" autocomplete="off" spellcheck="false" placeholder="ws_…" required>
            <button type="submit">Save secret</button>
          </form>
          <p>Secret: {{#secretSet}}<span class="ok">set</span>{{/secretSet}}{{^secretSet}}<span class="bad">not set</span>{{/secretSet}}</p>
          <p>Signed event received: {{#received}}<span class="ok" id="received">yes</span>{{/received}}{{^received}}<span class="bad" id="received">not yet</span>{{/received}}</p>
        </section>
        """

    static let settings = """
        <h1>Settings</h1>
        <section class="card">
          <dl class="figures">
            <div><dt>Shop</dt><dd>{{shop}}</dd></div>
            <div><dt>Whop company</dt><dd>{{companyID}}</dd></div>
            <div><dt>Whop key</dt><dd><code>{{fingerprint}}</code></dd></div>
            <div><dt>Plan</dt><dd>{{tier}}</dd></div>
            <div><dt>Monthly limit</dt><dd>{{limit}}</dd></div>
          </dl>
        </section>
        <section class="card">
          <h2>Replace the Whop key</h2>
          <p>Rotated the key in Whop? Paste the new one; it is validated first, then overwrites the old one.</p>
          <form method="post" action="/app/whop-key">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <label for="api_key">New Whop company API key</label>
            <input id="api_key" name="api_key" type="password" autocomplete="off" spellcheck="false" required>
            <button type="submit">Replace key</button>
          </form>
        </section>
        """

    static let signedOut = """
        <section class="card">
          <h1>Open Hygge from your Shopify admin</h1>
          <p>Your session has ended or this browser has not signed in yet. Open the Hygge app from
          Shopify admin → Apps, or install it with <code>/shopify/install?shop=your-shop.myshopify.com</code>.</p>
        </section>
        """

    static let css = """
        :root{--ink:#2b2a28;--muted:#6f6a62;--bg:#faf7f2;--card:#fff;--ok:#2f7d4f;--bad:#a8402f;--line:#e6dfd4}
        *{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,sans-serif;color:var(--ink);background:var(--bg)}
        .top{display:flex;gap:1rem;align-items:center;padding:.8rem 1.5rem;border-bottom:1px solid var(--line);background:var(--card)}
        .brand{font-weight:700;letter-spacing:.05em}.shop{color:var(--muted)}nav{margin-left:auto;display:flex;gap:1rem}
        nav a{color:var(--ink);text-decoration:none}nav a[aria-current]{font-weight:600;border-bottom:2px solid var(--ink)}
        main{max-width:60rem;margin:1.5rem auto;padding:0 1.5rem}.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem 1.25rem;margin-bottom:1rem}
        label{display:block;font-weight:600;margin:.5rem 0 .25rem}input[type=text],input[type=password]{width:100%;max-width:32rem;padding:.5rem;border:1px solid var(--line);border-radius:6px;font:inherit}
        button{margin-top:.5rem;padding:.45rem 1rem;border:0;border-radius:6px;background:var(--ink);color:#fff;font:inherit;cursor:pointer}
        .error{color:var(--bad)}.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}.flash{background:#eef6f0;padding:.5rem 1rem;border-radius:6px}
        .figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.75rem}.figures dt{color:var(--muted);font-size:.85rem}.figures dd{margin:0;font-size:1.2rem;font-weight:600}
        table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line)}.row{display:flex;gap:.75rem;align-items:center}
        .copy{display:flex;gap:.5rem;align-items:center}.copy button{margin:0}.hint{color:var(--muted);font-size:.9rem}code{font-size:.9em}
        """

    static let script = """
        document.addEventListener('click', function (event) {
          var button = event.target.closest('[data-copy]');
          if (!button) return;
          var input = document.getElementById(button.getAttribute('data-copy'));
          input.select();
          if (navigator.clipboard) { navigator.clipboard.writeText(input.value); }
          button.textContent = 'Copied';
        });
        """
}
