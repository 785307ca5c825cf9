"""Who is asking: credentials by role, stored as hashes, and agent sessions bound to one agent id.

- Role credentials (``http.credentials``: role -> list of ``sha256:<hex>``) are random tokens made by
  ``cti credentials new ROLE``; only their SHA-256 is kept (a random 32-byte token needs no slow hash:
  the same practice as GitHub's and PyPI's API tokens). Several per role: add the new one, hand it out,
  remove the old one, ``kill -HUP`` the layer (see :meth:`Credentials.update`); no restart.
- Agents sign in with their PIN (``http.agent_pins``: agent id -> list of scrypt hashes, RFC 7914,
  hashlib's) at ``POST /api/agents/{id}/session`` and get a session token ``ag1.<id>.<expires>.<sig>``
  (HMAC-SHA256 with the session key), valid for that agent only until it expires.
- ``http.token`` (the one token of earlier versions) is an *admin* credential, kept in plain text for
  compatibility; the README says to move to hashes.

Every comparison is :func:`hmac.compare_digest` over every candidate (no early exit on a match).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cti.files import write_secret
from cti.roles import ADMIN, AGENT, ROLES

SESSION_PREFIX = "ag1"
# scrypt cost (RFC 7914 §2; OWASP's minimum for scrypt is N=2^17, r=8: ~0.1 s and 128 MiB here, too slow
# per sign-in on a 2-core box under load; 2^14 with r=8 is the Python docs' example and ~16 MiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
PIN_FAILURES = 5            # wrong PINs for one agent id before it is locked...
PIN_LOCK_SECONDS = 60.0     # ...for this long (429)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: its role, and for an agent session the agent id it is bound to."""

    role: str
    agent: str | None = None
    label: str = ""            # for logs: the credential's hash prefix or "agent 6001", never the secret


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The settings form of a role credential: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """The settings form of an agent PIN: ``scrypt$N$r$p$<salt b64>$<hash b64>``."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_hash_form(value: str) -> str:
    """Raise ValueError unless ``value`` is a ``sha256:<64 hex>`` token hash."""
    kind, _, digest = value.partition(":")
    if kind != "sha256" or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("a credential is stored as sha256:<64 lowercase hex> (cti credentials new ROLE)")
    return value


def check_pin_form(value: str) -> str:
    """Raise ValueError unless ``value`` is an scrypt hash made by :func:`hash_pin`."""
    parts = value.split("$")
    try:
        ok = len(parts) == 6 and parts[0] == "scrypt" and all(int(p) > 0 for p in parts[1:4])
        ok = ok and len(base64.b64decode(parts[4], validate=True)) >= 8 and base64.b64decode(parts[5], validate=True)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("an agent PIN is stored as scrypt$N$r$p$salt$hash (cti credentials pin AGENT)")
    return value


def pin_matches(pin: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(base64.b64decode(digest)), maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(got, base64.b64decode(digest))


def load_session_key(configured: str, path: Path) -> bytes:
    """The agent-session HMAC key: the setting, else a random one kept in ``path`` (0600) and reused."""
    if configured:
        return configured.encode()
    if path.exists():
        return path.read_bytes().strip()
    value = secrets.token_urlsafe(32)
    write_secret(path, value)          # never readable by others, not even briefly
    return value.encode()


_DUMMY = hash_pin("not a pin", salt=b"\0" * 16)


class Credentials:
    """The credentials in force; :meth:`update` swaps them in place (SIGHUP), sessions stay valid."""

    def __init__(self, http, session_key: bytes, extra: dict[str, str] | None = None,
                 clock=time.time) -> None:
        self.session_key = session_key
        self.extra = dict(extra or {})      # plain token -> role, made for this run (the printed wall address)
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self.update(http)

    def update(self, http) -> None:
        """Take the credentials of settings section ``http`` (HttpSettings)."""
        self.hashes = [(bytes.fromhex(h.partition(":")[2]), role)
                       for role in ROLES for h in http.credentials.get(role, ())]
        self.plain = dict(self.extra)
        if http.token:
            self.plain[http.token] = ADMIN
        self.pins = {agent: list(hashes) for agent, hashes in http.agent_pins.items()}
        self.session_seconds = http.session_hours * 3600

    def counts(self) -> dict[str, int]:
        out = {role: 0 for role in ROLES}
        for _, role in self.hashes:
            out[role] += 1
        for role in self.plain.values():
            out[role] += 1
        out[AGENT] = len(self.pins)
        return out

    def principal(self, presented: str) -> Principal | None:
        """The principal ``presented`` authenticates, or None."""
        if not presented or len(presented) > 512:
            return None
        if presented.startswith(SESSION_PREFIX + "."):
            return self._session(presented)
        found: Principal | None = None
        digest = hashlib.sha256(presented.encode()).digest()
        for stored, role in self.hashes:                     # every candidate: no early exit
            if hmac.compare_digest(digest, stored) and found is None:
                found = Principal(role, label=f"sha256:{stored.hex()[:8]}")
        for token, role in self.plain.items():
            if hmac.compare_digest(presented.encode(), token.encode()) and found is None:
                found = Principal(role, label=f"{role} token")
        return found

    # -- agent sessions --------------------------------------------------------------------------------
    def _sign(self, agent: str, expires: int) -> str:
        mac = hmac.new(self.session_key, f"{SESSION_PREFIX}\n{agent}\n{expires}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")

    def _session(self, token: str) -> Principal | None:
        try:
            _, agent, expires, sig = token.split(".")
            when = int(expires)
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(agent, when), sig) or self.clock() > when:
            return None
        return Principal(AGENT, agent=agent, label=f"agent {agent}")

    def locked(self, agent: str) -> bool:
        count, since = self._failures.get(agent, (0, 0.0))
        return count >= PIN_FAILURES and self.clock() - since < PIN_LOCK_SECONDS

    def sign_in(self, agent: str, pin: str) -> tuple[str, int] | None:
        """A session token and its expiry (epoch seconds) for the right PIN, else None (a failure counted)."""
        ok = False
        for stored in self.pins.get(agent, ()) or (_DUMMY,):   # an unknown id costs the same scrypt
            ok = pin_matches(pin, stored) or ok
        ok = ok and agent in self.pins
        if not ok:
            count, since = self._failures.get(agent, (0, 0.0))
            if self.clock() - since >= PIN_LOCK_SECONDS:
                count, since = 0, self.clock()
            self._failures[agent] = (count + 1, since)
            if len(self._failures) > 10_000:                 # bounded memory under a flood of made-up ids
                self._failures.pop(next(iter(self._failures)))
            return None
        self._failures.pop(agent, None)
        expires = int(self.clock() + self.session_seconds)
        return f"{SESSION_PREFIX}.{agent}.{expires}.{self._sign(agent, expires)}", expires
