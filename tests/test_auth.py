"""Bearer JWT verification: algorithms, claims, tenants, JWKS, dev secret and minted tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.servers import SECRET, free_port
from workbench_mcp.auth import (
    AuthError,
    JwtVerifier,
    PrincipalToken,
    acting_as,
    current_principal,
    dev_secret_path,
    load_or_create_dev_secret,
    mint_token,
)
from workbench_mcp.config import (
    DEFAULT_JWT_MAX_LIFETIME_S,
    ConfigError,
    JwtConfig,
    check_jwt_config,
    jwt_from_env,
    parse_duration,
)
from workbench_mcp.errors import WorkbenchError
from workbench_mcp.principal import Principal


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "user_1", "iat": now, "exp": now + 600, **extra}


def hs(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def forge_hs256(payload: dict[str, Any], key: bytes) -> str:
    """HS256 by hand: PyJWT itself refuses a PEM as an HMAC secret, an attacker's script does not."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(payload).encode())
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def unsigned(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, None, algorithm="none")  # type: ignore[arg-type]


async def verify(config: JwtConfig, token: str) -> Principal:
    return await JwtVerifier(config).verify(token)


# --- HS256 -----------------------------------------------------------------------------------------


async def test_hs256_token_gives_principal_with_user_tenant() -> None:
    who = await verify(JwtConfig(secret=SECRET), hs(claims(scope="runs:read runs:write")))
    assert who == Principal("user:user_1", "user_1", frozenset({"runs:read", "runs:write"}))


@pytest.mark.parametrize(
    ("extra", "tenant"),
    [
        ({"org_id": "org_42"}, "org_42"),
        ({"o": {"id": "org_clerk", "rol": "admin"}}, "org_clerk"),
        ({"org_id": "org_own", "o": {"id": "org_clerk"}}, "org_own"),
        ({"org_id": ""}, "user:user_1"),
        ({"o": "not-an-object"}, "user:user_1"),
    ],
)
async def test_tenant_is_org_claim_else_user(extra: dict[str, Any], tenant: str) -> None:
    assert (await verify(JwtConfig(secret=SECRET), hs(claims(**extra)))).tenant_id == tenant


@pytest.mark.parametrize(
    ("tenant_claims", "extra", "claim"),
    [
        (("org_id", "o.id"), {"org_id": "user:alice"}, "org_id"),
        (("org_id", "o.id"), {"o": {"id": "user:alice"}}, "o.id"),
        (("org_id", "o.id"), {"org_id": "user:alice", "o": {"id": "org_fine"}}, "org_id"),
        (("org_id", "o.id"), {"org_id": "user:"}, "org_id"),
        (
            ("https://example.test/tenant",),
            {"https://example.test/tenant": "user:alice"},
            "https://example.test/tenant",
        ),
        (("tenant.id",), {"tenant": {"id": "user:bob"}}, "tenant.id"),
    ],
)
async def test_an_org_claim_in_the_personal_namespace_is_refused(
    tenant_claims: tuple[str, ...], extra: dict[str, Any], claim: str
) -> None:
    """Org tenants and personal tenants (`user:<sub>`) never share an id: such a token is refused whole."""
    config = JwtConfig(secret=SECRET, tenant_claims=tenant_claims)
    with pytest.raises(AuthError) as refused:
        await verify(config, hs(claims(**extra)))
    assert f"token `{claim}` is in the personal-tenant namespace" in str(refused.value)


@pytest.mark.parametrize("org", ["org_2abc", "User:alice", "users:alice", "acme:user:alice", "user_alice"])
async def test_org_ids_outside_the_personal_namespace_are_tenants_unchanged(org: str) -> None:
    assert (await verify(JwtConfig(secret=SECRET), hs(claims(org_id=org)))).tenant_id == org


async def test_tenant_claim_names_are_configurable() -> None:
    config = JwtConfig(secret=SECRET, tenant_claims=("https://example.test/tenant",))
    token = hs(claims(**{"https://example.test/tenant": "t-9", "org_id": "ignored"}))
    assert (await verify(config, token)).tenant_id == "t-9"


@pytest.mark.parametrize(
    ("token_factory", "reason"),
    [
        (lambda: "", "missing"),
        (lambda: "not.a.jwt", "well-formed"),
        (lambda: "x" * 20_000, "too long"),
        (lambda: hs(claims(), secret="another-secret-that-is-long-enough-0123456789"), "signature"),
        (lambda: unsigned(claims()), "algorithm"),
        (lambda: hs(claims(exp=int(time.time()) - 3600)), "expired"),
        (lambda: hs(claims(nbf=int(time.time()) + 3600)), "not valid yet"),
        (lambda: hs({"exp": int(time.time()) + 600}), "sub"),
        (lambda: hs({"sub": "u"}), "exp"),
        (lambda: hs(claims(sub="")), "sub"),
    ],
)
async def test_hs256_rejections(token_factory: Any, reason: str) -> None:
    with pytest.raises(AuthError) as refused:
        await verify(JwtConfig(secret=SECRET), token_factory())
    assert reason in str(refused.value)


# --- times and lifetime --------------------------------------------------------------------------------

NOW = int(time.time())
DAY = 86400


@pytest.mark.parametrize(
    ("times", "accepted"),
    [
        ({"iat": NOW, "exp": NOW + DEFAULT_JWT_MAX_LIFETIME_S}, True),  # exactly the maximum: the dev token's
        ({"iat": NOW, "exp": NOW + DEFAULT_JWT_MAX_LIFETIME_S + 1}, False),
        ({"iat": NOW - 10 * DAY, "exp": NOW + 25 * DAY}, False),  # 35 days, though only 25 remain
        ({"exp": NOW + DEFAULT_JWT_MAX_LIFETIME_S}, True),  # no iat: measured from now
        ({"exp": NOW + DEFAULT_JWT_MAX_LIFETIME_S + 3600}, False),
        ({"iat": NOW, "exp": 10**30}, False),
        ({"iat": NOW, "exp": 1e30}, False),
        ({"exp": 10**400}, False),  # an integer beyond any float
    ],
)
async def test_token_lifetime_is_bounded(times: dict[str, Any], accepted: bool) -> None:
    token = hs({"sub": "u", **times})
    if accepted:
        assert (await verify(JwtConfig(secret=SECRET), token)).subject == "u"
    else:
        with pytest.raises(AuthError, match=f"lifetime exceeds the maximum of {DEFAULT_JWT_MAX_LIFETIME_S} seconds"):
            await verify(JwtConfig(secret=SECRET), token)


async def test_maximum_lifetime_is_configurable() -> None:
    config = jwt_from_env({"WORKBENCH_JWT_SECRET": SECRET, "WORKBENCH_JWT_MAX_LIFETIME": "1h"})
    assert config.max_lifetime_seconds == 3600
    assert await verify(config, hs(claims(iat=NOW, exp=NOW + 3600)))
    with pytest.raises(AuthError, match="lifetime"):
        await verify(config, hs(claims(iat=NOW, exp=NOW + 3601)))


@pytest.mark.parametrize(
    ("times", "reason"),
    [
        ({"exp": str(NOW + 600)}, "token `exp` must be a number"),  # PyJWT alone accepts numeric strings
        ({"exp": NOW + 600, "iat": str(NOW)}, "token `iat` must be a number"),
        ({"exp": NOW + 600, "nbf": str(NOW)}, "token `nbf` must be a number"),
        ({"exp": NOW + 600, "iat": None}, "token is invalid"),
        ({"exp": True}, "token has expired"),
    ],
)
async def test_time_claims_must_be_numbers(times: dict[str, Any], reason: str) -> None:
    with pytest.raises(AuthError) as refused:
        await verify(JwtConfig(secret=SECRET), hs({"sub": "u", **times}))
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("extra", "claim"),
    [
        ({"sub": "\ud800"}, "sub"),
        ({"sub": "ok\udfffok"}, "sub"),
        ({"org_id": "org_\ud800"}, "org_id"),
        ({"o": {"id": "\udc80"}}, "o.id"),
        ({"scope": "runs:read \ud800"}, "scope"),
    ],
)
async def test_lone_surrogates_in_identity_claims_are_refused(extra: dict[str, Any], claim: str) -> None:
    """JSON `"\\ud800"` decodes to a str with no UTF-8 form: refused here, not INTERNAL_ERROR later."""
    with pytest.raises(AuthError, match=f"token `{claim}` is not valid Unicode text"):
        await verify(JwtConfig(secret=SECRET), hs(claims(**extra)))


@pytest.mark.parametrize(
    ("text", "seconds"), [("3600", 3600), ("90m", 5400), ("24h", 86400), ("30d", 2592000), (" 2H ", 7200)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "X") == seconds


@pytest.mark.parametrize("text", ["0", "-5", "1.5h", "h", "10w", ""])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="X must be a positive duration"):
        parse_duration(text, "X")


def test_short_hs256_secrets_are_refused_at_start() -> None:
    check_jwt_config(JwtConfig(secret="k" * 32))
    with pytest.raises(ConfigError, match="is 31 bytes; at least 32 are required"):
        check_jwt_config(JwtConfig(secret="k" * 31))
    with pytest.raises(ConfigError, match="is 30 bytes"):
        check_jwt_config(JwtConfig(secret="é" * 15))  # bytes, not characters
    with pytest.raises(ConfigError, match="is 31 bytes"):
        JwtVerifier(JwtConfig(secret="k" * 31))  # an app built without `serve` checks it too


async def test_small_clock_skew_is_tolerated() -> None:
    config = JwtConfig(secret=SECRET, leeway_seconds=30)
    now = int(time.time())
    assert await verify(config, hs(claims(exp=now - 10)))
    assert await verify(config, hs(claims(nbf=now + 10)))


async def test_issuer_and_audience_checked_when_configured() -> None:
    config = JwtConfig(secret=SECRET, issuer="https://issuer.test", audience="workbench")
    assert await verify(config, hs(claims(iss="https://issuer.test", aud="workbench")))
    for bad, reason in [
        (claims(iss="https://evil.test", aud="workbench"), "issuer"),
        (claims(iss="https://issuer.test", aud="other"), "audience"),
        (claims(aud="workbench"), "iss"),
        (claims(iss="https://issuer.test"), "aud"),
    ]:
        with pytest.raises(AuthError) as refused:
            await verify(config, hs(bad))
        assert reason in str(refused.value)


async def test_unconfigured_audience_accepts_tokens_that_carry_one() -> None:
    assert await verify(JwtConfig(secret=SECRET), hs(claims(aud="something")))


# --- RS256 / ES256 and key confusion ------------------------------------------------------------------


async def test_rs256_and_es256_with_pem_public_keys() -> None:
    rsa_private = rsa_key()
    ec_private = ec.generate_private_key(ec.SECP256R1())
    rs_token = jwt.encode(claims(), rsa_private, algorithm="RS256")
    es_token = jwt.encode(claims(org_id="o"), ec_private, algorithm="ES256")
    assert (await verify(JwtConfig(public_key_pem=public_pem(rsa_private)), rs_token)).subject == "user_1"
    assert (await verify(JwtConfig(public_key_pem=public_pem(ec_private)), es_token)).tenant_id == "o"
    with pytest.raises(AuthError):
        await verify(JwtConfig(public_key_pem=public_pem(rsa_key())), rs_token)  # another key pair


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """The classic HS/RS confusion: the attacker HMACs with the (public) PEM text."""
    private = rsa_key()
    pem = public_pem(private)
    forged = forge_hs256(claims(), pem.encode())
    with pytest.raises(AuthError, match="algorithm"):
        await verify(JwtConfig(public_key_pem=pem), forged)
    # With both a secret and a public key configured, HS256 is checked against the secret only.
    with pytest.raises(AuthError, match="signature"):
        await verify(JwtConfig(secret=SECRET, public_key_pem=pem), forged)


async def test_rs256_refused_when_only_a_secret_is_configured() -> None:
    with pytest.raises(AuthError, match="algorithm"):
        await verify(JwtConfig(secret=SECRET), jwt.encode(claims(), rsa_key(), algorithm="RS256"))


def test_verifier_needs_key_material() -> None:
    with pytest.raises(ValueError, match="secret"):
        JwtVerifier(JwtConfig())


# --- JWKS ---------------------------------------------------------------------------------------------


class JwksServer:
    """A real HTTP JWKS endpoint whose key set a test can rotate; counts fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0

    def publish(self, private: rsa.RSAPrivateKey, kid: str) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        self.keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})

    async def endpoint(self, request: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse({"keys": self.keys})


@pytest.fixture
async def jwks() -> AsyncIterator[tuple[JwksServer, str]]:
    keys = JwksServer()
    port = free_port()
    app = Starlette(routes=[Route("/jwks.json", keys.endpoint)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn exposes a flag, not an event
        if task.done():
            task.result()  # startup failed (e.g. the port was taken): raise it instead of waiting forever
            raise AssertionError("the JWKS server stopped before it started")
        await asyncio.sleep(0.01)  # pytest-timeout (pyproject) bounds the rest
    yield keys, f"http://127.0.0.1:{port}/jwks.json"
    server.should_exit = True
    await task


async def test_jwks_keys_are_cached_and_refreshed_on_unknown_kid(jwks: tuple[JwksServer, str]) -> None:
    keys, url = jwks
    first, second = rsa_key(), rsa_key()
    keys.publish(first, "k1")
    verifier = JwtVerifier(JwtConfig(jwks_url=url))
    for _ in range(3):
        await verifier.verify(jwt.encode(claims(), first, algorithm="RS256", headers={"kid": "k1"}))
    assert keys.fetches == 1  # cached

    keys.publish(second, "k2")  # rotation: a new kid appears at the issuer
    verifier_clock_skip(verifier)
    who = await verifier.verify(jwt.encode(claims(sub="rotated"), second, algorithm="RS256", headers={"kid": "k2"}))
    assert who.subject == "rotated"
    assert keys.fetches == 2

    with pytest.raises(AuthError, match="unknown"):
        await verifier.verify(jwt.encode(claims(), rsa_key(), algorithm="RS256", headers={"kid": "nope"}))
    with pytest.raises(AuthError, match="unknown"):
        await verifier.verify(jwt.encode(claims(), rsa_key(), algorithm="RS256", headers={"kid": "nope2"}))
    assert keys.fetches <= 3  # made-up kids cannot make us hammer the JWKS endpoint


def verifier_clock_skip(verifier: JwtVerifier) -> None:
    """Pretend the refresh cooldown has passed (the cooldown itself is asserted above)."""
    assert verifier._jwks is not None
    verifier._jwks._fetched_at -= 60


async def test_jwks_unreachable_is_an_auth_error() -> None:
    verifier = JwtVerifier(JwtConfig(jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json"))
    with pytest.raises(AuthError, match="unavailable"):
        await verifier.verify(jwt.encode(claims(), rsa_key(), algorithm="RS256", headers={"kid": "k"}))


# --- identity context, dev secret, minting -------------------------------------------------------------


def test_current_principal_outside_a_request_is_unauthorized() -> None:
    with pytest.raises(WorkbenchError) as refused:
        current_principal()
    assert refused.value.code.value == "UNAUTHORIZED"
    with acting_as(Principal("acme", "bob")):
        assert current_principal() == Principal("acme", "bob")


async def test_sdk_token_verifier_interface() -> None:
    verifier = JwtVerifier(JwtConfig(secret=SECRET))
    access = await verifier.verify_token(hs(claims(org_id="acme")))
    assert isinstance(access, PrincipalToken)
    assert access.tenant_id == "acme"
    assert access.subject == "user_1"
    assert await verifier.verify_token("garbage") is None


def test_dev_secret_is_created_once_beside_the_database(tmp_path: Path) -> None:
    db = tmp_path / "data" / "workbench.db"
    secret, created = load_or_create_dev_secret(db)
    again, created_again = load_or_create_dev_secret(db)
    assert (created, created_again) == (True, False)
    assert secret == again
    assert len(secret) >= 48
    assert dev_secret_path(db).parent == db.parent
    assert dev_secret_path(db).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda path: path.chmod(0o644), "mode 0644 lets other users read or change it"),
        (lambda path: path.chmod(0o620), "mode 0620"),
        (lambda path: path.write_text(""), "is empty"),
        (lambda path: path.write_text("  \n"), "is empty"),
        (lambda path: path.write_bytes(b"\xff" * 40), "is not UTF-8 text"),
        (lambda path: path.write_text("short"), "is 5 bytes; at least 32"),
    ],
)
def test_an_untrustworthy_dev_secret_is_refused(tmp_path: Path, prepare: Any, message: str) -> None:
    db = tmp_path / "w.db"
    secret_file = dev_secret_path(db)
    secret_file.write_text("x" * 64)
    secret_file.chmod(0o600)
    prepare(secret_file)
    with pytest.raises(ConfigError, match=message) as refused:
        load_or_create_dev_secret(db)
    assert str(secret_file) in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_dev_secret_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """Whoever can write the directory could plant a secret they know; a file not ours is not trusted."""
    if os.geteuid() != 0:
        pytest.skip("creating another user's file needs root")
    db = tmp_path / "w.db"
    secret_file = dev_secret_path(db)
    secret_file.write_text("x" * 64)
    secret_file.chmod(0o600)
    os.chown(secret_file, 65534, 65534)
    with pytest.raises(ConfigError, match="owned by uid 65534, not by this server's user"):
        load_or_create_dev_secret(db)


async def test_minted_tokens_verify_with_the_same_settings() -> None:
    config = JwtConfig(secret=SECRET, issuer="iss", audience="aud")
    token = mint_token(SECRET, user="u1", org="org_9", ttl_s=60, issuer="iss", audience="aud")
    assert await verify(config, token) == Principal("org_9", "u1")
    expired = mint_token(SECRET, user="u1", ttl_s=60, now=int(time.time()) - 3600)
    with pytest.raises(AuthError, match="expired"):
        await verify(JwtConfig(secret=SECRET), expired)
