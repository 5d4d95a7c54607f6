"""Schemathesis hooks for checking the OpenAPI document against the running server
(scripts/test.sh, "OpenAPI document"; docs/API.md, "The OpenAPI document").

- Wallet API requests are signed as docs/API.md ("Signing") says, with the key in
  WALLET_KEY_ID and WALLET_KEY_SECRET: the signature covers the exact bytes sent, so it is
  made on the prepared request. A request is signed only when the three signing headers
  Schemathesis generated are all present and well formed; a request whose headers were left
  out or broken on purpose goes as generated and must be refused.
- Two rules the document states in words but JSON Schema cannot (a key id listed once in a
  provider's key set; a statement's transaction ids once each and its period_end after its
  period_start) are kept by mending generated bodies before they are sent: later duplicates
  dropped, a period the wrong way round turned.
"""
import hashlib
import hmac
import os
import re
import time
from collections.abc import Mapping
from datetime import datetime

import requests
import schemathesis

SIGNING_HEADERS = {
    "X-Wallet-Key-Id": re.compile(r"[A-Za-z0-9._:-]{1,128}"),
    "X-Wallet-Timestamp": re.compile(r"[0-9]{1,18}"),
    "X-Wallet-Signature": re.compile(r"v1=[0-9a-f]{64}"),
}


class WalletSignature(requests.auth.AuthBase):
    """Signs a prepared request: "v1\\n" METHOD "\\n" PATH_AND_QUERY "\\n" TIMESTAMP "\\n" hex(SHA256(body))."""

    def __init__(self, key_id, secret):
        self.key_id, self.secret = key_id, secret

    def __call__(self, request):
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = str(int(time.time() * 1000))
        canonical = "\n".join(
            ["v1", request.method, request.path_url, timestamp, hashlib.sha256(body).hexdigest()]
        )
        mac = hmac.new(self.secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
        request.headers["X-Wallet-Key-Id"] = self.key_id
        request.headers["X-Wallet-Timestamp"] = timestamp
        request.headers["X-Wallet-Signature"] = "v1=" + mac
        return request


def _generated_well_formed(headers):
    if not isinstance(headers, Mapping):
        return False
    for name, pattern in SIGNING_HEADERS.items():
        value = headers.get(name)
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            return False
    return True


def _time(value):
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return None


def _first_of_each(items, field):
    """The list without the later items whose `field` an earlier item has."""
    seen, kept = set(), []
    for item in items:
        key = repr(item.get(field)) if isinstance(item, dict) else None
        if key is not None and key in seen:
            continue
        seen.add(key)
        kept.append(item)
    return kept


def keep_rules_stated_in_words(case):
    body = case.body
    if not isinstance(body, dict):
        return
    path = case.operation.path
    if path == "/operator/v1/providers/{provider_id}" and isinstance(body.get("keys"), list):
        body["keys"] = _first_of_each(body["keys"], "key_id")
    if path == "/wallet/v1/reconciliation/reports":
        if isinstance(body.get("transactions"), list):
            body["transactions"] = _first_of_each(body["transactions"], "transaction_id")
        start, end = _time(body.get("period_start")), _time(body.get("period_end"))
        try:
            if start is not None and end is not None and not end > start:
                if start > end:
                    body["period_start"], body["period_end"] = body["period_end"], body["period_start"]
                else:
                    body["period_end"] = "9999-12-31T23:59:59Z"
        except TypeError:
            pass


ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def use_the_real_player(case):
    """Well-formed player, game and session fields name the player the test command made
    (WALLET_PLAYER_ID, WALLET_GAME_ID, WALLET_SESSION_TOKEN), so that requests reach the
    money rules; ill-formed ones, which the server must refuse, are left alone."""
    real = {
        "player_id": os.environ.get("WALLET_PLAYER_ID"),
        "game_id": os.environ.get("WALLET_GAME_ID"),
    }
    for container in (case.body, case.query):
        if not isinstance(container, dict):
            continue
        for field, value in real.items():
            if value and isinstance(container.get(field), str) and ID.fullmatch(container[field]):
                container[field] = value
    session = os.environ.get("WALLET_SESSION_TOKEN")
    if session and isinstance(case.body, dict) and isinstance(case.body.get("session_token"), str):
        case.body["session_token"] = session


@schemathesis.hook
def before_call(context, case, kwargs):
    keep_rules_stated_in_words(case)
    if not case.operation.path.startswith("/wallet/"):
        return
    use_the_real_player(case)
    if _generated_well_formed(case.headers):
        kwargs["auth"] = WalletSignature(os.environ["WALLET_KEY_ID"], os.environ["WALLET_KEY_SECRET"])


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """One documented refusal of a well-formed request depends on the balance, not on the
    request: a credit that would take it past 18 digits is 400 INVALID_AMOUNT (docs/API.md,
    "Money"). Only that answer is not counted as a valid request refused."""
    if response.status_code != 400 or getattr(failure, "code", None) != "ST202":
        return True
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return True
    return not (
        error.get("code") == "INVALID_AMOUNT" and "exceed 18 digits" in error.get("message", "")
    )
