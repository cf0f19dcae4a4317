"""Signed review links (README "Human review"): `{base_url}/review/{token}`, the token bound to tenant, run, step,
gate, reviewer subject, request id and expiry, and signed by the server with HMAC-SHA256.

The key is shared by every worker process and replica (a link minted by one is verified by another): the file
`WORKBENCH_REVIEW_LINK_KEY_FILE` names, else `<db>.review-link-key` beside the database, created mode 0600 on
first start like the development JWT secret and the ledger key. Whoever holds it can mint links for any tenant,
so an existing file is trusted only if this server's user owns it and nobody else can read or change it.

A token is `v1.<payload>.<mac>` (base64url, no padding): the payload is compact JSON, the MAC covers `v1.<payload>`
as sent, so nothing is re-serialized before the check. Verification answers distinct, stable codes: a token
that is malformed, signed with another key or changed in any byte is REVIEW_LINK_INVALID (one message for all,
so a probe learns nothing about which check failed); a genuine token past its expiry is REVIEW_LINK_EXPIRED.
Whether a link was already used is the store's to say (REVIEW_LINK_USED, review/service.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench_mcp.config import ConfigError, check_private_file
from workbench_mcp.errors import ErrorCode, WorkbenchError

KEY_FILE_SUFFIX = ".review-link-key"
KEY_BYTES = 32
MAX_TOKEN_CHARS = 4096
"""Longer than any token this server mints (ids and subjects are bounded); longer input is refused unparsed."""
_VERSION = "v1"
_PAYLOAD_KEYS = {"t": "tenant_id", "r": "run_id", "s": "step_id", "g": "gate", "u": "reviewer", "q": "request_id"}
INVALID_MESSAGE = "this review link is not valid (it is incomplete, was changed, or was not issued by this server)"


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a review link is bound to."""

    tenant_id: str
    run_id: str
    step_id: str
    gate: str
    reviewer: str
    request_id: str
    expires_at: int
    """Unix seconds."""


def default_key_path(db_path: Path) -> Path:
    """Beside the database, like the development JWT secret and the ledger key."""
    return db_path.with_name(db_path.name + KEY_FILE_SUFFIX)


def read_key(path: Path) -> bytes:
    """The key in `path` (hex text); ConfigError naming the problem when it is missing, too short or not private."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"cannot read the review link key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        check_private_file(path, os.fstat(fd), "review link key file")
        raw = handle.read(4 * KEY_BYTES + 1)
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"the review link key file {path} does not hold a hex key") from None
    if len(key) < KEY_BYTES:
        raise ConfigError(f"the review link key in {path} is {len(key)} bytes; at least {KEY_BYTES} are required")
    return key


def load_or_create_key(path: Path) -> tuple[bytes, bool]:
    """The key at `path`, created (mode 0600, never overwriting) if missing; True when it was created now.
    Two processes starting at once agree: the second finds the first's file (O_EXCL) and reads it."""
    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(path), False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key, True


class LinkSigner:
    """Mints and verifies review links with one key; `base_url` is the server's public origin."""

    def __init__(self, key: bytes, base_url: str) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"a review link key needs at least {KEY_BYTES} bytes")
        self._key = key
        self.base_url = base_url.rstrip("/")

    @classmethod
    def ephemeral(cls, base_url: str = "") -> LinkSigner:
        """A key of this process only (tests, in-process embedders): links it mints die with it."""
        return cls(secrets.token_bytes(KEY_BYTES), base_url)

    def mint(self, claims: LinkClaims) -> str:
        fields = asdict(claims)
        document: dict[str, Any] = {short: fields[name] for short, name in _PAYLOAD_KEYS.items()}
        document["e"] = claims.expires_at
        payload = _b64(json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
        signed = f"{_VERSION}.{payload}"
        return f"{signed}.{_b64(self._mac(signed))}"

    def url(self, token: str) -> str:
        return f"{self.base_url}/review/{token}"

    def verify(self, token: str, *, now: float) -> LinkClaims:
        """The claims of a token this key signed: REVIEW_LINK_INVALID unless the MAC matches (compared in constant
        time), then REVIEW_LINK_EXPIRED once `now` (Unix seconds) reaches the expiry."""
        claims = self._authentic(token)
        if claims is None:
            raise WorkbenchError(ErrorCode.REVIEW_LINK_INVALID, INVALID_MESSAGE)
        if now >= claims.expires_at:
            raise WorkbenchError(
                ErrorCode.REVIEW_LINK_EXPIRED, "this review link has expired; ask for a new review request"
            )
        return claims

    def _authentic(self, token: str) -> LinkClaims | None:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            return None
        mac = _unb64(parts[2])
        # The MAC is checked before the payload is even parsed: nothing of an unsigned payload is looked at.
        if mac is None or not hmac.compare_digest(mac, self._mac(f"{parts[0]}.{parts[1]}")):
            return None
        raw = _unb64(parts[1])
        try:
            document = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        return _claims(document)

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()


def _claims(document: Any) -> LinkClaims | None:
    """Claims from a signed payload; None for a shape this server never mints (e.g. a key reused elsewhere)."""
    if not isinstance(document, dict) or set(document) != {*_PAYLOAD_KEYS, "e"}:
        return None
    values = {name: document[short] for short, name in _PAYLOAD_KEYS.items()}
    expires = document["e"]
    if not all(isinstance(v, str) and v for v in values.values()) or type(expires) is not int:
        return None
    return LinkClaims(expires_at=expires, **values)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    if not text or any(c not in _B64_ALPHABET for c in text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Canonical only: otherwise a changed last character (its unused bits) would decode to the same bytes.
    return data if _b64(data) == text else None


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
