"""Standard Webhooks signatures (https://www.standardwebhooks.com): pure functions, no I/O.

``webhook-signature`` is a space-separated list of ``v1,<base64 HMAC-SHA256>`` over
``{webhook-id}.{webhook-timestamp}.{body}`` keyed with the base64 bytes after ``whsec_``. We sign
with every configured secret, so a receiver holding either the old or the new one verifies during a
rotation, and we accept a callback signed with any of ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Mapping, Sequence

PREFIX = "whsec_"


class SignatureError(Exception):
    """A callback failed verification; the message says why (safe to return to the sender)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
    }


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: float,
           tolerance: float) -> str:
    """Check the three headers against ``body``; return the webhook-id or raise SignatureError."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    presented = headers.get("webhook-signature", "")
    if not msg_id or not stamp or not presented:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"webhook-timestamp outside the {tolerance:.0f} s window")
    candidates = [p.partition(",")[2] for p in presented.split() if p.startswith("v1,")]
    for secret in secrets:
        expected = signature(secret, msg_id, timestamp, body).partition(",")[2]
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return msg_id
    raise SignatureError("no valid v1 signature")
