#!/usr/bin/env python3
"""A minimal game-provider client for the oncewallet wallet API, standard library only.

It signs each request (docs/API.md, "Signing"), checks the signature of each answer,
places a bet, sends the same bet again as a retry after a (simulated) timeout, and asks
the status lookup what became of the transaction. Run it against a wallet:

    WALLET_URL=http://127.0.0.1:3000 KEY_ID=... SECRET=... PLAYER_ID=... \\
    SESSION_TOKEN=... GAME_ID=... CURRENCY=EUR SCALE=2 python3 provider_client.py

It exits 0 when the wallet counted the bet once, 1 otherwise.
"""
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def canonical_request(method, path, timestamp, body):
    digest = hashlib.sha256(body).hexdigest()
    return f"v1\n{method}\n{path}\n{timestamp}\n{digest}"


def canonical_response(status, timestamp, body):
    digest = hashlib.sha256(body).hexdigest()
    return f"v1-response\n{status}\n{timestamp}\n{digest}"


def signature(secret, canonical):
    mac = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256)
    return "v1=" + mac.hexdigest()


class Wallet:
    def __init__(self, url, key_id, secret):
        self.url, self.key_id, self.secret = url.rstrip("/"), key_id, secret

    def call(self, method, path, payload=None):
        """One signed request; the answer's status and JSON body, its signature checked."""
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-Wallet-Key-Id": self.key_id,
            "X-Wallet-Timestamp": timestamp,
            "X-Wallet-Signature": signature(
                self.secret, canonical_request(method, path, timestamp, body)
            ),
            "X-Request-Id": f"example-{uuid.uuid4()}",
        }
        request = urllib.request.Request(
            self.url + path, data=body if payload is not None else None,
            headers=headers, method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, answer_headers = error.code, error.read(), error.headers
        expected = signature(
            self.secret,
            canonical_response(status, answer_headers.get("X-Wallet-Timestamp", ""), raw),
        )
        if not hmac.compare_digest(expected, answer_headers.get("X-Wallet-Signature", "")):
            raise RuntimeError(f"{method} {path}: the answer's signature is wrong")
        return status, json.loads(raw)


def main():
    env = os.environ
    wallet = Wallet(env["WALLET_URL"], env["KEY_ID"], env["SECRET"])
    bet = {
        "transaction_id": f"py-bet-{uuid.uuid4().hex}",
        "player_id": env["PLAYER_ID"],
        "round_id": f"py-round-{uuid.uuid4().hex}",
        "game_id": env["GAME_ID"],
        "session_token": env["SESSION_TOKEN"],
        "amount": {"value": "100", "currency": env["CURRENCY"], "scale": int(env["SCALE"])},
    }
    status, first = wallet.call("POST", "/wallet/v1/bet", bet)
    print(f"bet: {status} {first['status']} replayed={first.get('replayed')}")
    # Suppose that answer was lost: send the very same bet again. It counts once.
    status, again = wallet.call("POST", "/wallet/v1/bet", bet)
    print(f"retry: {status} {again['status']} replayed={again.get('replayed')}")
    # After a timeout, the status lookup says what became of the transaction.
    status, lookup = wallet.call("GET", f"/wallet/v1/transactions/{bet['transaction_id']}")
    state = lookup["lookup"]["state"]
    print(f"lookup: {status} state={state}")
    once = (
        first["status"] == "OK" and again.get("replayed") is True
        and again["transaction"] == first["transaction"] and state == "COMMITTED"
    )
    print("counted once" if once else "NOT counted once")
    return 0 if once else 1


if __name__ == "__main__":
    sys.exit(main())
