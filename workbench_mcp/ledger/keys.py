"""Ed25519 signing keys, their JWK form and RFC 7638 key ids.

The server signs with one key; rotation makes a new key sign from then on while the public keys of
retired ones stay published (the store keeps every public key it ever signed with, `store_rows.py`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEYS_PATH = "/.well-known/workbench-keys.json"
"""Where the server publishes its signing keys (a JWKS of OKP/Ed25519 keys)."""

KEY_FILE_SUFFIX = ".signing-key"

# RFC 7638 section 3.2: the members a thumbprint covers, per key type.
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


class SigningKeyError(ValueError):
    """A key file or JWK that is not an Ed25519 key we can use."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: base64url SHA-256 of the required members, sorted, without whitespace."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise SigningKeyError(f"cannot compute a thumbprint of a {jwk.get('kty')!r} key without {members}")
    text = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url(hashlib.sha256(text.encode("utf-8")).digest())


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP/Ed25519 JWK (RFC 8037) with its thumbprint as `kid`."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    return {**jwk, "kid": jwk_thumbprint(jwk), "alg": "EdDSA", "use": "sig"}


def public_key_of(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise SigningKeyError("not an OKP/Ed25519 JWK")
    try:
        return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    except ValueError as exc:
        raise SigningKeyError(f"bad Ed25519 public key: {exc}") from None


@dataclass(frozen=True, slots=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    jwk: dict[str, str]

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(private_key, public_jwk(private_key.public_key()))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.of(Ed25519PrivateKey.generate())


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def default_key_path(db_path: Path) -> Path:
    """Beside the database, like the development JWT secret."""
    return db_path.with_name(db_path.name + KEY_FILE_SUFFIX)


def load_key(path: Path) -> SigningKey:
    """A PEM (PKCS#8) Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"cannot read the signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return SigningKey.of(key)


def write_key(path: Path, key: SigningKey) -> None:
    """Create `path` (mode 0600, never overwriting) holding the key as PEM."""
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def load_or_create_key(path: Path) -> tuple[SigningKey, bool]:
    """The key at `path`, created first if missing; True when it was created now."""
    if path.exists():
        return load_key(path), False
    key = SigningKey.generate()
    try:
        write_key(path, key)
    except FileExistsError:  # another process created it first: use theirs
        return load_key(path), False
    return key, True


def jwks(keys: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"keys": [dict(k) for k in keys]}


def keys_by_id(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """A JWKS's Ed25519 keys by their computed thumbprint (a `kid` member is not trusted); others skipped."""
    found: dict[str, Ed25519PublicKey] = {}
    members = document.get("keys")
    if not isinstance(members, list):
        raise SigningKeyError("a JWKS is an object with a `keys` array")
    for jwk in members:
        if isinstance(jwk, Mapping) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            found[jwk_thumbprint(jwk)] = public_key_of(jwk)
    return found
