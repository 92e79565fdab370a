"""Sending one message through its channel, as each platform documents it:

* **WeCom** (企业微信群机器人): ``POST`` JSON ``{"msgtype": "markdown", "markdown":
  {"content": ...}}`` to the robot's webhook URL (its ``key`` is the secret).
* **DingTalk** (钉钉自定义机器人, 加签): ``timestamp`` (ms) and ``sign`` =
  urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret))) as query
  parameters; body ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at":
  {"atMobiles": [...]}}``.
* **Feishu / Lark** (飞书自定义机器人, 签名校验): ``timestamp`` (s) and ``sign`` =
  base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg=b"")) in the JSON body.
* **E-mail**: ``smtplib``, Chinese subject and body, ``Message-ID`` from the message id.
* **Webhook**: Standard Webhooks (the ``standardwebhooks`` library): ``webhook-id`` (the
  message id), ``webhook-timestamp``, ``webhook-signature``; the body is the CloudEvent.

Every call goes through the address guard first. The outcome is an HTTP-like code
(2xx delivered; SMTP success is 250) or an error text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from ledger.domain.notification import ChannelKind, ChannelSpec, RuleSet, Smtp
from ledger.notify.guard import BlockedAddress, check_host

TIMEOUT = 10.0
"""Seconds a receiver may take to answer."""


@dataclass(frozen=True)
class Outcome:
    code: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.code is not None and 200 <= self.code < 300 and self.error is None

    @property
    def gone(self) -> bool:
        """410 Gone: the endpoint asks never to be called again."""
        return self.code == 410


class NotConfigured(Exception):
    """A channel's URL or secret is missing (unset environment variable, removed channel)."""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` (before URL encoding)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign``: the key is ``timestamp\\nsecret``, the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _env(name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise NotConfigured(f"{what}: environment variable {name} is not set")
    return value


def _url(spec: ChannelSpec) -> str:
    url = spec.url or _env(spec.url_env, "url")
    if url is None:
        raise NotConfigured("no url")
    return url


def send(
    rules: RuleSet, channel: str, target: str, message_id: str, payload: dict[str, Any]
) -> Outcome:
    """Deliver one message; never raises for a receiver's fault (it is the outcome)."""
    spec = rules.channels.get(channel)
    if spec is None:
        return Outcome(None, f"channel {channel!r} is no longer in the rules")
    try:
        if spec.kind is ChannelKind.EMAIL:
            assert rules.smtp is not None  # the rules' validation requires it
            return _send_email(rules.smtp, rules.outbound.allow, target, message_id, payload)
        request = _http_request(spec, message_id, payload)
        return _post(request, rules.outbound.allow)
    except (NotConfigured, BlockedAddress) as e:
        return Outcome(None, str(e))


def _http_request(
    spec: ChannelSpec, message_id: str, payload: dict[str, Any]
) -> tuple[str, dict[str, str], bytes]:
    url, title, text = _url(spec), payload["title"], payload["text"]
    mentions: list[str] = payload.get("mentions", [])
    headers = {"Content-Type": "application/json; charset=utf-8"}
    body: dict[str, Any]
    if spec.kind is ChannelKind.WECOM:
        mention_line = " ".join(f"<@{m}>" for m in mentions)
        content = f"{text}\n{mention_line}" if mention_line else text
        body = {"msgtype": "markdown", "markdown": {"content": content}}
    elif spec.kind is ChannelKind.DINGTALK:
        mention_line = " ".join(f"@{m}" for m in mentions)
        body = {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": f"{text}\n\n{mention_line}".strip()},
            "at": {"atMobiles": mentions, "isAtAll": False},
        }
        secret = _env(spec.secret_env, "secret")
        if secret:
            stamp = int(time.time() * 1000)
            query = urllib.parse.urlencode(
                {"timestamp": stamp, "sign": dingtalk_sign(secret, stamp)}
            )
            url = f"{url}{'&' if '?' in url else '?'}{query}"
    elif spec.kind is ChannelKind.FEISHU:
        body = {"msg_type": "text", "content": {"text": f"{title}\n{_plain(text)}"}}
        secret = _env(spec.secret_env, "secret")
        if secret:
            stamp = int(time.time())
            body = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **body}
    else:
        return url, *_standard_webhook(spec, message_id, payload["cloudevent"])
    return url, headers, json.dumps(body, ensure_ascii=False).encode()


def _standard_webhook(
    spec: ChannelSpec, message_id: str, cloud_event: dict[str, Any]
) -> tuple[dict[str, str], bytes]:
    from standardwebhooks import Webhook  # only a webhook delivery needs it

    secret = _env(spec.secret_env, "secret")
    assert secret is not None  # the rules require secret_env for a webhook
    data = json.dumps(cloud_event, ensure_ascii=False, separators=(",", ":"))
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, now, data)
    headers = {
        "Content-Type": "application/cloudevents+json; charset=utf-8",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return headers, data.encode()


def _plain(markdown: str) -> str:
    return "\n".join(line.removeprefix("### ").removeprefix("- ") for line in markdown.splitlines())


def _post(request: tuple[str, dict[str, str], bytes], allow: tuple[str, ...]) -> Outcome:
    url, headers, body = request
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Outcome(None, f"not an http(s) URL: {parsed.scheme}://...")
    check_host(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80), allow)
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            code = int(response.status)
            answer = response.read(4096)
    except urllib.error.HTTPError as e:
        return Outcome(e.code, f"HTTP {e.code}")
    except (urllib.error.URLError, OSError) as e:
        return Outcome(None, f"cannot reach {parsed.hostname}: {getattr(e, 'reason', e)}")
    return Outcome(code, _robot_error(answer))


def _robot_error(answer: bytes) -> str | None:
    """The robots answer 200 with an error code in the body (``errcode``/``code`` ≠ 0)."""
    try:
        data = json.loads(answer or b"{}")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("errcode", data.get("code", data.get("StatusCode", 0)))
    if code not in (0, None):
        return f"refused by the robot: {code} {data.get('errmsg') or data.get('msg') or ''}".strip()
    return None


def _send_email(
    smtp: Smtp, allow: tuple[str, ...], address: str, message_id: str, payload: dict[str, Any]
) -> Outcome:
    check_host(smtp.host, smtp.port, allow)
    mail = EmailMessage()
    mail["Subject"] = payload["title"]
    mail["From"] = smtp.sender
    mail["To"] = address
    mail["Message-ID"] = f"<{message_id}@ledger>" if message_id else make_msgid()
    mail.set_content(_plain(payload["text"]), charset="utf-8")
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT) as client:
            if smtp.starttls:
                client.starttls()
            user = _env(smtp.username_env, "smtp username")
            if user:
                client.login(user, _env(smtp.password_env, "smtp password") or "")
            refused = client.send_message(mail)
    except smtplib.SMTPResponseException as e:
        return Outcome(e.smtp_code, f"SMTP {e.smtp_code}: {e.smtp_error!r}")
    except (smtplib.SMTPException, OSError) as e:
        return Outcome(None, f"SMTP: {e}")
    if refused:
        return Outcome(550, f"refused: {', '.join(refused)}")
    return Outcome(250)
