"""Schemathesis hooks for Hygge's sandbox (loaded through SCHEMATHESIS_HOOKS by scripts/schemathesis.sh).

Unsigned webhooks only ever reach the signature check, so every other generated webhook is signed the way Whop and
Shopify sign theirs: then the envelope parser, the merchant's event handling and the journal see generated input
too. The signing secrets are the sandbox's made-up ones (README, CONTRACT §9); when a generated request replaces the
demo merchant's Whop webhook secret, the new one is used from then on.
"""
import base64
import hashlib
import hmac
import json
import os
import zlib

import schemathesis

import testlib  # scripts/ is on PYTHONPATH (scripts/schemathesis.sh)

DEMO_COMPANY = "biz_sandbox_demo"
DEMO_SHOP = "hygge-demo.myshopify.com"
APP_SECRET = os.environ.get("HYGGE_SANDBOX_APP_SECRET", "hygge_sandbox_api_secret")
PLATFORM_SECRET = os.environ.get("WHOP_WEBHOOK_SECRET_HYGGE", "ws_platform_schemathesis")
# Shopify topics that would uninstall or erase the demo merchant: left unsigned so the rest of the run keeps it.
DESTRUCTIVE_TOPICS = {"app/uninstalled", "shop/redact"}

state = {"merchant_secret": os.environ.get("HYGGE_SANDBOX_WEBHOOK_SECRET", "ws_sandbox_demo")}


def _raw_json(body):
    """The bytes `requests` sends for `json=body` (json.dumps defaults, UTF-8)."""
    text = json.dumps(body, allow_nan=False)
    return text.encode("utf-8")


def _chosen(case):
    """A stable half of the cases (by content), so shrinking reproduces the same decision."""
    try:
        key = repr((case.body, sorted((case.headers or {}).items())))
    except Exception:
        key = repr(case.body)
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % 2 == 0


def _sign_standard(case, secret, with_company):
    body = case.body
    if not isinstance(body, dict):
        return
    if with_company:
        body = dict(body)
        body["company_id"] = DEMO_COMPANY
        case.body = body
    try:
        raw = _raw_json(body)
    except (TypeError, ValueError):
        return
    headers = dict(case.headers or {})
    message_id = str(headers.get("webhook-id") or "msg_schemathesis")[:200] or "msg_schemathesis"
    if not message_id.isprintable() or not message_id.isascii():
        message_id = "msg_schemathesis"
    headers.update(testlib.standard_webhook_headers(secret, message_id, raw))
    case.headers = headers


def _sign_shopify(case):
    headers = dict(case.headers or {})
    if headers.get("X-Shopify-Topic") in DESTRUCTIVE_TOPICS or not isinstance(case.body, (dict, list)):
        return
    try:
        raw = _raw_json(case.body)
    except (TypeError, ValueError):
        return
    headers["X-Shopify-Shop-Domain"] = DEMO_SHOP
    headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    case.headers = headers


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if not _chosen(case):
        return
    if path == "/api/webhooks/whop":
        _sign_standard(case, state["merchant_secret"], with_company=True)
    elif path == "/api/webhooks/whop/platform":
        _sign_standard(case, PLATFORM_SECRET, with_company=False)
    elif path == "/api/webhooks/shopify":
        _sign_shopify(case)


@schemathesis.hook
def after_call(context, case, response):
    """Follow the demo merchant's webhook secret when a generated request replaced it."""
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else {}
    if path == "/api/merchant/whop-webhook-secret" and response.status_code == 204:
        secret = body.get("secret")
    elif path == "/app/webhook-secret" and response.status_code == 303:
        secret = body.get("secret")
    else:
        return
    if isinstance(secret, str) and secret.strip():
        state["merchant_secret"] = secret.strip()
