"""Local receivers for the notification tests: HTTP servers on 127.0.0.1 (in threads) that
check each platform's signature as its documentation specifies, and answer as the
platform does (a robot refuses a bad signature with 200 and an error code in the body)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float = field(default_factory=time.time)
    """When it arrived (seconds since the epoch)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """One endpoint: ``kind`` is wecom, dingtalk, feishu or webhook."""

    kind: str
    secret: str = ""
    fail_next: int = 0
    """Answer 500 to this many requests, then recover."""
    status: int = 200
    hold: float = 0.0
    """Seconds to sit on each of the next ``hold_next`` requests before answering."""
    hold_next: int = 0
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    @property
    def good(self) -> list[Received]:
        return [r for r in self.received if r.verified]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parsed = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = receiver.verify(query, headers, body)
                with receiver.lock:
                    receiver.received.append(Received(parsed.path, query, headers, body, verified))
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                    holding = receiver.hold_next > 0
                    if holding:
                        receiver.hold_next -= 1
                if holding:
                    time.sleep(receiver.hold)
                code, answer = receiver.answer(verified, failing)
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def answer(self, verified: bool, failing: bool) -> tuple[int, dict[str, Any]]:
        if failing:
            return 500, {"error": "down"}
        if self.status != 200:
            return self.status, {"error": "status"}
        if not verified:
            if self.kind == "dingtalk":
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
            if self.kind == "feishu":
                return 200, {"code": 19021, "msg": "sign match fail"}
            return 401, {"error": "bad signature"}
        return 200, {"errcode": 0, "errmsg": "ok"} if self.kind != "feishu" else {"code": 0}

    def verify(self, query: dict[str, str], headers: dict[str, str], body: bytes) -> bool:
        if self.kind == "wecom":
            data = json.loads(body)
            return data.get("msgtype") == "markdown" and bool(data["markdown"]["content"])
        if self.kind == "dingtalk":
            # 加签: HmacSHA256(key=secret, msg=timestamp+"\n"+secret), Base64, then urlEncode
            # (parse_qsl has already decoded it); timestamp in ms, within an hour.
            stamp = query.get("timestamp", "")
            string_to_sign = f"{stamp}\n{self.secret}".encode()
            expected = base64.b64encode(
                hmac.new(self.secret.encode(), string_to_sign, hashlib.sha256).digest()
            ).decode()
            fresh = stamp.isdigit() and abs(time.time() * 1000 - int(stamp)) < 3600_000
            return fresh and hmac.compare_digest(expected, query.get("sign", ""))
        if self.kind == "feishu":
            # 签名校验: HmacSHA256 with key = timestamp+"\n"+secret over an empty message,
            # Base64; timestamp in seconds in the body.
            data = json.loads(body)
            stamp = str(data.get("timestamp", ""))
            key = f"{stamp}\n{self.secret}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 3600
            return fresh and hmac.compare_digest(expected, str(data.get("sign", "")))
        from standardwebhooks import Webhook, WebhookVerificationError

        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True


def wait_for(condition: Any, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())
