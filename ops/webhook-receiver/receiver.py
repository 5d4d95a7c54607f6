#!/usr/bin/env python3
"""A webhook receiver for oncewallet's events (docs/EVENTS.md), standard library only.

It checks every delivery's signature, drops events it has already seen (by event_id),
notes when a player's money.moved sequence skips a number, and prints each new event
as one JSON line on stdout. Use it as it is to watch a wallet's events, or as the
starting point of your own receiver.

    WEBHOOK_SECRET=... python3 receiver.py [--port 8080] [--host 127.0.0.1]

With --port 0 it picks a free port. It prints `listening on http://HOST:PORT` first.
Answers: 200 for a delivery it took (or had already taken), 401 when the signature does
not verify or `t` is more than 5 minutes from now, 400 for a body that is not an event.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

TOLERANCE_SECONDS = 300


def verify(secret: bytes, header: str, body: bytes, now: float) -> bool:
    """docs/EVENTS.md, "Verifying a delivery"."""
    fields = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    try:
        t = int(fields["t"])
        v1 = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - t) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)


class State:
    def __init__(self):
        self.lock = Lock()
        # A real receiver keeps these in its database, in the transaction that acts on
        # the event, so that a crash between acting and answering cannot act twice.
        self.seen = set()
        self.last_sequence = {}


def make_handler(secret: bytes, state: State):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if not verify(secret, self.headers.get("Oncewallet-Signature", ""), body, time.time()):
                return self.answer(401)
            try:
                event = json.loads(body)
                event_id = event["event_id"]
            except (ValueError, KeyError, TypeError):
                return self.answer(400)
            with state.lock:
                if event_id in state.seen:
                    return self.answer(200)
                state.seen.add(event_id)
                data = event.get("data") or {}
                if event.get("type") == "money.moved":
                    player, sequence = data.get("player_id"), data.get("sequence")
                    last = state.last_sequence.get(player)
                    if last is not None and sequence != last + 1:
                        # A dead event that was never redelivered, or a redelivered one.
                        print(f"note: player {player} went from {last} to {sequence}",
                              file=sys.stderr, flush=True)
                    state.last_sequence[player] = sequence
                print(json.dumps(event, separators=(",", ":")), flush=True)
            self.answer(200)

        def answer(self, status: int):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        sys.exit("WEBHOOK_SECRET: the subscription's secret is required")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(secret.encode(), State()))
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
