"""AWS Signature Version 4 for S3 requests, pure: method, URL, headers and payload hash in, headers out.

Enough of the algorithm for an S3-compatible store (MinIO, Ceph, OSS, COS, AWS): header signing with
the payload's SHA-256, no chunked uploads, no query presigning.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, day: str, region: str, service: str = "s3") -> bytes:
    key = _hmac(f"AWS4{secret_key}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_query(query: str) -> str:
    pairs = []
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def sign(method: str, url: str, headers: dict[str, str], payload_sha256: str, access_key: str, secret_key: str,
         region: str, now: datetime | None = None, service: str = "s3") -> dict[str, str]:
    """The request's headers plus Host, X-Amz-Date, X-Amz-Content-Sha256 and Authorization.

    ``url`` must already be percent-encoded as sent (S3 paths are encoded once, slashes kept).
    """
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    parts = urlsplit(url)
    out = dict(headers)
    out["Host"] = parts.netloc
    out["X-Amz-Date"] = stamp
    out["X-Amz-Content-Sha256"] = payload_sha256
    canon = {k.lower(): " ".join(str(v).split()) for k, v in out.items()}
    names = sorted(canon)
    signed = ";".join(names)
    request = "\n".join([method.upper(), parts.path or "/", canonical_query(parts.query),
                         "".join(f"{n}:{canon[n]}\n" for n in names), signed, payload_sha256])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
    signature = hmac.new(signing_key(secret_key, day, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    return out
