"""Known-answer tests: the DSSE spec's PAE vector, RFC 8032 Ed25519 vectors, RFC 7638's thumbprint."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workbench_mcp.ledger import chain
from workbench_mcp.ledger.dsse import pae, sign_envelope, verify_envelope
from workbench_mcp.ledger.keys import SigningKey, b64url_decode, jwk_thumbprint, public_jwk


def test_pae_matches_the_dsse_specification_vector() -> None:
    # github.com/secure-systems-lab/dsse protocol.md, "Test Vectors".
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t/ü", "é".encode()) == b"DSSEv1 4 t/\xc3\xbc 2 \xc3\xa9"


# RFC 8032 section 7.1, TEST 1-3: (secret key, public key, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_ed25519_signs_and_verifies_the_rfc_8032_vectors(
    secret: str, public: str, message: str, signature: str
) -> None:
    key = SigningKey.of(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret)))
    assert b64url_decode(key.jwk["x"]).hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature


def test_thumbprint_of_the_rfc_7638_example_key() -> None:
    # RFC 7638 section 3.1.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
        "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgn"
        "Yb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0L"
        "s1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_our_key_ids_are_thumbprints_of_the_okp_members_only() -> None:
    key = SigningKey.generate()
    jwk = public_jwk(key.private_key.public_key())
    assert jwk["kid"] == jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}) == key.kid


def test_an_envelope_verifies_only_unchanged_and_with_its_key() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    envelope = sign_envelope("application/x", b"payload", key)
    public = {key.kid: key.private_key.public_key()}
    assert verify_envelope(envelope, public) == (b"payload", key.kid)
    with pytest.raises(ValueError, match="no signature verifies"):
        verify_envelope(envelope, {other.kid: other.private_key.public_key()})
    with pytest.raises(ValueError, match="no signature verifies"):
        verify_envelope({**envelope, "payloadType": "application/y"}, public)


def test_the_chain_starts_at_64_zeros_and_hashes_previous_link_then_canonical_json() -> None:
    import hashlib

    first = chain.link(chain.GENESIS, {"b": 1, "a": "x"})
    assert first == hashlib.sha256(("0" * 64 + '{"a":"x","b":1}').encode()).hexdigest()
    assert chain.links([{"a": 1}, {"a": 2}]) == [chain.link(chain.GENESIS, {"a": 1}), chain.head([{"a": 1}, {"a": 2}])]


@pytest.mark.parametrize(
    "principal",
    ["user_bob", "ünïcødé 😀", "tab\tnew\nline\u001f\u2028", "lone \ud800 surrogate", 'quote " back \\ slash'],
)
def test_the_fast_audit_link_is_the_canonical_one(principal: str) -> None:
    row = {"tenant_id": "t", "run_id": "r", "seq": 7, "event_id": "evt_1", "principal": principal, "tool": "x",
           "correlation_id": None, "at": "2026-01-01T00:00:00.000Z", "amount": 1.5}  # fmt: skip
    assert chain.audit_link("a" * 64, row) == chain.link("a" * 64, chain.audit_record(row))
    del row["amount"]  # only strings and integers: the orjson path
    assert chain.audit_link("a" * 64, row) == chain.link("a" * 64, chain.audit_record(row))
