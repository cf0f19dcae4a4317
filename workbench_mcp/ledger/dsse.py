"""DSSE v1 envelopes (github.com/secure-systems-lab/dsse, protocol.md): sign and verify with Ed25519.

The signature covers PAE(payloadType, payload), never the base64 text, so a verifier needs no JSON
canonicalization. `keyid` is the signing key's RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from workbench_mcp.ledger.keys import SigningKey, verify_signature

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """An envelope that is malformed, or whose signature no trusted key verifies."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_envelope(payload_type: str, payload: bytes, key: SigningKey) -> dict[str, Any]:
    signature = key.sign(pae(payload_type, payload))
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [{"keyid": key.kid, "sig": base64.b64encode(signature).decode("ascii")}],
    }


def open_envelope(envelope: Any) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    """(payloadType, payload, [(keyid, signature)]) of a well-formed envelope."""
    if not isinstance(envelope, Mapping):
        raise EnvelopeError("a DSSE envelope is a JSON object")
    payload_type, payload, signatures = (envelope.get(k) for k in ("payloadType", "payload", "signatures"))
    if not isinstance(payload_type, str) or not isinstance(payload, str) or not isinstance(signatures, list):
        raise EnvelopeError("a DSSE envelope needs payloadType, payload (base64) and signatures")
    sigs: list[tuple[str, bytes]] = []
    try:
        body = base64.b64decode(payload, validate=True)
        for entry in signatures:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("sig"), str):
                raise EnvelopeError("each signature needs a base64 `sig`")
            sigs.append((str(entry.get("keyid", "")), base64.b64decode(entry["sig"], validate=True)))
    except (binascii.Error, ValueError) as exc:
        if isinstance(exc, EnvelopeError):
            raise
        raise EnvelopeError(f"bad base64 in the envelope: {exc}") from None
    return payload_type, body, sigs


def verify_envelope(
    envelope: Any, keys: Mapping[str, Ed25519PublicKey], *, payload_type: str | None = None
) -> tuple[bytes, str]:
    """The payload and the id of the trusted key that signed it; EnvelopeError otherwise.

    A signature counts when its keyid names a trusted key and that key verifies it over the PAE.
    """
    kind, body, signatures = open_envelope(envelope)
    if payload_type is not None and kind != payload_type:
        raise EnvelopeError(f"payloadType is {kind!r}, expected {payload_type!r}")
    message = pae(kind, body)
    for keyid, signature in signatures:
        key = keys.get(keyid)
        if key is not None and verify_signature(key, signature, message):
            return body, keyid
    named = ", ".join(k for k, _ in signatures) or "none"
    raise EnvelopeError(f"no signature verifies with a published key (signatures by: {named})")
