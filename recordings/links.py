"""Signed, expiring download links: HMAC-SHA256 over the recording id and the expiry time."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote


def sign(secret: str, uniqueid: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{uniqueid}\n{expires}".encode(), hashlib.sha256).hexdigest()


def verify(secret: str, uniqueid: str, expires: str, sig: str, now: float) -> str:
    """``ok``, ``expired`` or ``bad`` (a wrong or malformed signature)."""
    try:
        when = int(expires)
    except (TypeError, ValueError):
        return "bad"
    if not sig or not hmac.compare_digest(sign(secret, uniqueid, when), sig):
        return "bad"
    return "ok" if now <= when else "expired"


def path(uniqueid: str) -> str:
    return f"/api/recordings/{quote(uniqueid, safe='.-_')}"


def signed_path(secret: str, uniqueid: str, now: float, ttl: int) -> str:
    expires = int(now) + ttl
    return f"{path(uniqueid)}?expires={expires}&sig={sign(secret, uniqueid, expires)}"
