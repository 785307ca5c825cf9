"""Standard Webhooks signatures (https://www.standardwebhooks.com) by the reference ``standardwebhooks``
package: what is signed, the HMAC and its encoding are the library's; pure functions, no I/O.

What we add on top of the library:
- we sign with every configured secret, so a receiver holding either the old or the new one verifies
  during a rotation (``webhook-signature`` holds one ``v1,...`` per secret, space-separated);
- we accept a callback signed with any of our secrets;
- our own tolerance window (``tickets.callback_tolerance``, seconds) against the caller's clock
  reading: the library's ``Webhook.verify`` has a fixed 5-minute window on the wall clock, so we check
  the window here and match the signature against the library's ``Webhook.sign``;
- every malformed header (a signature without a comma, bad base64, a non-integer or overflowing
  timestamp, an id that is not text) is a ``SignatureError`` (a 401), never an exception from below.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets as _secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"
VERSION = "v1"                 # the only signature scheme of Standard Webhooks 1.0 (HMAC-SHA256)
MAX_ID = 256                   # longest webhook-id we take (ids are short opaque strings, e.g. msg_2xyz)


class SignatureError(Exception):
    """A callback failed verification; the message says why (safe to return to the sender)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>``, as the reference library signs ``{id}.{timestamp}.{body}``."""
    return Webhook(secret).sign(msg_id, _at(timestamp), body.decode("utf-8"))


def sign_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
    }


def _presented(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` header; other versions are skipped."""
    out = []
    for entry in header.split():
        version, comma, value = entry.partition(",")
        if not comma:
            raise SignatureError("webhook-signature entries must be <version>,<base64>")
        if version != VERSION:
            continue
        try:
            out.append(base64.b64decode(value.encode("ascii"), validate=True))
        except (binascii.Error, UnicodeEncodeError):
            raise SignatureError("webhook-signature is not base64") from None
    return out


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: float,
           tolerance: float) -> str:
    """Check the three headers against ``body``; return the webhook-id or raise SignatureError.

    ``now`` and ``tolerance`` in seconds (epoch, window either side)."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    presented = headers.get("webhook-signature", "")
    if not msg_id or not stamp or not presented:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(msg_id) > MAX_ID or not msg_id.isprintable() or not msg_id.isascii():
        raise SignatureError(f"webhook-id must be printable ASCII of at most {MAX_ID} characters")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:     # 12 digits: past the year 33000
        raise SignatureError("webhook-timestamp is not an integer of Unix seconds")   # the spec's form
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"webhook-timestamp outside the {tolerance:.0f} s window")
    candidates = _presented(presented)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("the body is not UTF-8 text") from None
    for secret in secrets:
        expected = base64.b64decode(Webhook(secret).sign(msg_id, _at(timestamp), text).partition(",")[2])
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return msg_id
    raise SignatureError("no valid v1 signature")
