"""The identity Application: users, e-mail uniqueness, profiles, verification, token revocation;
and the issuer of the portal's JWTs. Nothing here knows about HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording

from identity_service.domainmodel import (
    EmailIndex,
    EmailTaken,
    User,
    UserNotFound,
    email_index_id,
)

# How often a command reloads and retries after losing a race on the same user.
_RETRIES = 3


@dataclass(frozen=True)
class Written:
    """The outcome of a command: which user, and the notification id of the write
    (what a read model must reach before the caller can read its own write)."""

    user_id: UUID
    position: int | None


class IdentityApplication(Application[UUID]):
    name = "identity"
    env = {  # noqa: RUF012 (the library reads this class attribute)
        "MAPPER_TOPIC": "portal_events.mapper:MetadataMapper",
        "SINGLE_ROW_TRACKING": "y",
    }

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        # argon2id with the library's defaults (SPEC ID-1).
        self.hasher = PasswordHasher()
        # Verified against when the e-mail is unknown, so that both failures cost the same time.
        self._dummy_hash = self.hasher.hash(uuid.uuid4().hex)

    # --- commands -----------------------------------------------------------------------------

    def register(self, kind: str, email: str, password: str) -> Written:
        """SPEC ID-1: a citizen or business registers. Raises EmailTaken."""
        self._check_email_free(email)
        return self._save_new(User.register(kind, email, self.hasher.hash(password)))

    def create_staff(
        self, email: str, password: str, role: str, department: str | None = None
    ) -> Written:
        """SPEC ID-4: an admin creates a clerk (with department), auditor or admin."""
        self._check_email_free(email)
        user = User.create_staff(email, self.hasher.hash(password), role, department)
        return self._save_new(user)

    def bootstrap_admin(self, email: str, password: str) -> UUID | None:
        """Create the first admin unless the address exists already (idempotent, any number of
        processes may race here). Returns the new admin's id, or None when nothing was done."""
        try:
            return self.create_staff(email, password, "admin").user_id
        except EmailTaken:
            return None

    def update_profile(self, user_id: UUID, profile: dict[str, Any]) -> Written:
        """SPEC ID-2: replace the user's details. Raises InvalidProfile, NotApplicable."""
        return self._update(user_id, lambda user: user.update_profile(profile))

    def verify(
        self, user_id: UUID, document_type: str, document_number: str, clerk_id: UUID
    ) -> Written:
        """SPEC ID-3: a clerk records the in-person verification."""
        return self._update(
            user_id, lambda user: user.verify(document_type, document_number, str(clerk_id))
        )

    def revoke_verification(self, user_id: UUID, reason: str, clerk_id: UUID) -> Written:
        """SPEC ID-3 (expected): a clerk revokes the verification, with a reason."""
        return self._update(user_id, lambda user: user.revoke_verification(reason, str(clerk_id)))

    def revoke_token(self, user_id: UUID, jti: str, expires_at: datetime) -> Written:
        """SPEC ID-1 logout: the token id is refused by identity until the token expires."""
        return self._update(user_id, lambda user: user.revoke_token(jti, expires_at))

    # --- queries ------------------------------------------------------------------------------

    def get_user(self, user_id: UUID) -> User:
        try:
            user = self.repository.get(user_id)
        except AggregateNotFoundError:
            raise UserNotFound(str(user_id)) from None
        if not isinstance(user, User):  # an e-mail index id is not a user id
            raise UserNotFound(str(user_id))
        return user

    def find_user_id(self, email: str) -> UUID | None:
        try:
            index = self.repository.get(email_index_id(email))
        except AggregateNotFoundError:
            return None
        return index.user_id

    def authenticate(self, email: str, password: str) -> User | None:
        """The user whose e-mail and password these are, else None (never says which was wrong)."""
        user_id = self.find_user_id(email)
        if user_id is None:
            self._verify_quietly(self._dummy_hash, password)
            return None
        user = self.get_user(user_id)
        return user if self._verify_quietly(user.password_hash, password) else None

    # --- helpers ------------------------------------------------------------------------------

    def _verify_quietly(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except VerificationError:
            return False

    def _check_email_free(self, email: str) -> None:
        # Cheap early answer; the atomic save in _save_new is what actually guarantees it.
        if self.find_user_id(email) is not None:
            raise EmailTaken(email)

    def _save_new(self, user: User) -> Written:
        index = EmailIndex.claim(user.email, user.id)
        try:
            # The user last: its position is what the users projection (which does not follow
            # the index's topic) will reach, so read-your-writes waits on it.
            recordings = self.save(index, user)
        except IntegrityError:
            raise EmailTaken(user.email) from None
        return Written(user.id, _position(recordings))

    def _update(self, user_id: UUID, change: Callable[[User], None]) -> Written:
        for attempt in range(_RETRIES):
            user = self.get_user(user_id)
            change(user)
            try:
                return Written(user_id, _position(self.save(user)))
            except IntegrityError:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")


def _position(recordings: list[Recording]) -> int | None:
    return recordings[-1].notification.id if recordings else None


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

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._private_key.public_key()

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
