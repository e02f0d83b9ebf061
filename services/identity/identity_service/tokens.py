"""The issuer of the portal's access tokens (SPEC ID-1, ID-4): ES256 JWTs signed with identity's
private key, whose public half every service fetches as a JWKS and verifies locally.

A resource of the service (see main.py): the key file is read when the service starts, never at
import, so that importing the package needs no secrets.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from portal_web.auth import TokenVerifier

from identity_service.domainmodel import User
from identity_service.settings import IdentitySettings


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    jti: str
    expires_at: datetime


class TokenIssuer:
    """Signs the portal's access tokens (ES256) and publishes the public key as a JWKS."""

    algorithm = "ES256"

    def __init__(self, private_key_pem: bytes, issuer: str, audience: str, ttl_seconds: int):
        key = load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("ES256 needs an EC P-256 private key")
        self._private_key = key
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        self.kid = _jwk_thumbprint(public_jwk)
        self._jwks = {"keys": [public_jwk | {"kid": self.kid, "use": "sig", "alg": "ES256"}]}

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> TokenIssuer:
        """The issuer with the key in JWT_PRIVATE_KEY_FILE (required to run identity)."""
        key_file: Path | None = settings.jwt_private_key_file
        if key_file is None:
            raise RuntimeError(
                "JWT_PRIVATE_KEY_FILE is required: the EC P-256 key that signs tokens"
            )
        return cls(
            key_file.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.token_ttl_seconds,
        )

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._private_key.public_key()

    def verifier(self) -> TokenVerifier:
        """Checks tokens with this issuer's own key (identity needs no HTTP call to itself)."""
        return TokenVerifier(issuer=self.issuer, audience=self.audience, public_key=self.public_key)

    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def issue(self, user: User, now: datetime | None = None) -> IssuedToken:
        now = now or datetime.now(UTC)
        expires_at = now + timedelta(seconds=self.ttl_seconds)
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user.id),
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": jti,
            "role": user.role,
            "email": user.email,
        }
        if user.department:
            claims["department"] = user.department
        token = jwt.encode(
            claims, self._private_key, algorithm=self.algorithm, headers={"kid": self.kid}
        )
        return IssuedToken(token, self.ttl_seconds, jti, expires_at)


def _jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: a stable key id that changes exactly when the key changes."""
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
