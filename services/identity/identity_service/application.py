"""The identity Application (SPEC ID-1..ID-4): users, unique e-mail addresses, profiles,
in-person verification, log-in, log-out, password change, and the admin's account management.
Nothing here knows about HTTP or PostgreSQL: the reserved throttle attempt and the token issuer
are handed to `log_in` and `change_password`, so the whole use case runs in a unit test on
in-memory persistence.

Idempotency (`register`, `create_staff`, `verify`): the fingerprint of a keyed command covers
every field except the password. A password must never be fingerprinted: the fingerprint is a
fast, unsalted hash kept forever, which would make the password cheap to guess. The price is
that a repeat with the same key and another password answers the first result (and the account
keeps the first password).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from eventsourcing.application import AggregateNotFoundError
from portal_events import context
from portal_events.application import Idempotency, ServiceApplication, Written

from identity_service.domainmodel import (
    CredentialsInvalid,
    EmailIndex,
    EmailTaken,
    PasswordIncorrect,
    User,
    UserNotFound,
    email_index_id,
    normalise_email,
)
from identity_service.throttle import Attempt
from identity_service.tokens import IssuedToken, TokenIssuer

log = structlog.get_logger(__name__)

# Whose idempotency keys self-registrations are: nobody is logged in yet, so one shared scope.
SELF_REGISTRATION = "self-registration"


class IdentityApplication(ServiceApplication):
    name = "identity"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        # argon2id with the library's defaults (SPEC ID-1).
        self.hasher = PasswordHasher()
        # Verified against when the e-mail is unknown, so that both failures cost the same time.
        self._dummy_hash = self.hasher.hash(uuid.uuid4().hex)

    # --- commands -----------------------------------------------------------------------------

    def register(
        self, kind: str, email: str, password: str, idempotency_key: str | None = None
    ) -> Written[dict[str, Any]]:
        """SPEC ID-1: a citizen or business registers; the result is `{"user_id": ...}`.
        Raises EmailTaken, CommandNotApplicable (a kind that cannot self-register)."""
        email = normalise_email(email)
        command = {"kind": kind, "email": email}  # not the password: see the module docstring
        return self._create_user(
            Idempotency.of(SELF_REGISTRATION, idempotency_key, command),
            email,
            lambda password_hash: User.register(kind, email, password_hash),
            password,
        )

    def create_staff(
        self,
        email: str,
        password: str,
        role: str,
        department: str | None = None,
        *,
        admin_id: UUID | None = None,
        idempotency_key: str | None = None,
    ) -> Written[dict[str, Any]]:
        """SPEC ID-4: an admin (`admin_id`, whose key it is) creates a clerk (with department),
        auditor or admin; the result is `{"user_id": ...}`. Raises EmailTaken, ProfileInvalid
        (a clerk without department)."""
        email = normalise_email(email)
        command = {"email": email, "role": role, "department": department}
        return self._create_user(
            Idempotency.of(admin_id, idempotency_key, command),
            email,
            lambda password_hash: User.create_staff(email, password_hash, role, department),
            password,
        )

    def bootstrap_admin(self, email: str, password: str) -> UUID | None:
        """Create the first admin unless the address exists already (idempotent, any number of
        processes may race here). Returns the new admin's id, or None when nothing was done."""
        try:
            with context.bound(actor=context.Actor.system("identity-bootstrap")):
                written = self.create_staff(email, password, "admin")
        except EmailTaken:
            log.info("admin_bootstrap", created=False)
            return None
        log.info("admin_bootstrap", created=True)
        return UUID(written.result["user_id"])

    def update_profile(self, user_id: UUID, profile: dict[str, Any]) -> Written[User]:
        """SPEC ID-2: replace the user's details. Raises ProfileInvalid, CommandNotApplicable."""
        return self._update(user_id, lambda user: user.update_profile(profile))

    def verify(
        self,
        user_id: UUID,
        document_type: str,
        document_number: str,
        clerk_id: UUID,
        idempotency_key: str | None = None,
    ) -> Written[dict[str, Any]]:
        """SPEC ID-3: a clerk records the in-person verification; the result is
        `{"user_id": ...}`. Raises UserNotFound, UserAlreadyVerified, CommandNotApplicable."""
        command = {
            "user_id": str(user_id),
            "document_type": document_type,
            "document_number": document_number,
        }

        def create() -> tuple[list[User], dict[str, Any]]:
            user = self.get_user(user_id)
            user.verify(document_type, document_number, str(clerk_id))
            return [user], {"user_id": str(user_id)}

        return self.save_once(Idempotency.of(clerk_id, idempotency_key, command), create)

    def revoke_verification(self, user_id: UUID, reason: str, clerk_id: UUID) -> Written[User]:
        """SPEC ID-3 (expected): a clerk revokes the verification, with a reason."""
        return self._update(user_id, lambda user: user.revoke_verification(reason, str(clerk_id)))

    def log_in(
        self, email: str, password: str, attempt: Attempt, *, issuer: TokenIssuer
    ) -> IssuedToken:
        """SPEC ID-1: an access token for the account with this address and password.

        `attempt` is the throttle's reservation for this log-in (see throttle.py): it is told
        whether the password was right. Raises CredentialsInvalid for an unknown address, a
        wrong password and a disabled account alike (the same answer, in the same time: ASVS
        5.0 V6.3.8 - saying "disabled" would confirm to whoever holds the password that it is
        right; the reason is in identity's log)."""
        user = self._authenticate(normalise_email(email), password)
        if user is None or user.disabled:
            attempt.failed()
            if user is not None:
                log.info("login_refused", user_id=str(user.id), reason="account disabled")
            raise CredentialsInvalid("wrong e-mail or password")
        attempt.succeeded()
        _wait_for_the_next_second(user.tokens_valid_after)
        return issuer.issue(user)

    def change_password(
        self, user_id: UUID, current_password: str, new_password: str, attempt: Attempt
    ) -> Written[User]:
        """SPEC ID-1 (ASVS 5.0 V6.2.2, V6.2.3): the user changes their password, giving the
        current one; every token issued before is refused from then on (V7.4.3). A wrong current
        password raises PasswordIncorrect and counts as a failed log-in (`attempt`), so a stolen
        token cannot be used to guess the password faster than the log-in allows."""
        user = self.get_user(user_id)
        if not self._verify_quietly(user.password_hash, current_password):
            attempt.failed()
            raise PasswordIncorrect("the current password is not right")
        attempt.succeeded()
        new_hash = self.hasher.hash(new_password)
        return self._update(user_id, lambda user: user.change_password(new_hash))

    def disable(self, user_id: UUID, reason: str, admin_id: UUID) -> Written[User]:
        """SPEC ID-4 (ASVS 5.0 V7.4.2): no more log-ins, every token refused. Raises
        OwnAccountProtected for the admin's own account."""
        return self._update(user_id, lambda user: user.disable(reason, str(admin_id)))

    def enable(self, user_id: UUID, admin_id: UUID) -> Written[User]:
        """SPEC ID-4: the user may log in again (earlier tokens stay refused)."""
        return self._update(user_id, lambda user: user.enable(str(admin_id)))

    def update_staff(
        self, user_id: UUID, role: str | None, department: str | None, admin_id: UUID
    ) -> Written[User]:
        """SPEC ID-4: change a staff member's role or a clerk's department; earlier tokens
        (with the old role) are refused. Raises ProfileInvalid (department), CommandNotApplicable
        (not staff), OwnAccountProtected (the admin's own role)."""
        return self._update(
            user_id, lambda user: user.update_staff(role, department, str(admin_id))
        )

    def log_out(self, user_id: UUID, token_id: str, expires_at: datetime) -> Written[User]:
        """SPEC ID-1: the token with this id is refused by identity until it expires."""
        return self._update(user_id, lambda user: user.revoke_token(token_id, expires_at))

    # --- queries ------------------------------------------------------------------------------

    def get_user(self, user_id: UUID) -> User:
        """Raises UserNotFound, also for an id that is not a user's (e.g. an e-mail index)."""
        return self.load(user_id, User, not_found=UserNotFound)

    def find_user_id(self, email: str) -> UUID | None:
        try:
            index = self.repository.get(email_index_id(email))
        except AggregateNotFoundError:
            return None
        return index.user_id

    # --- helpers ------------------------------------------------------------------------------

    def _create_user(
        self,
        idempotency: Idempotency | None,
        email: str,
        make: Callable[[str], User],
        password: str,
    ) -> Written[dict[str, Any]]:
        def create() -> tuple[list[Any], dict[str, Any]]:
            # Cheap early answer; the index saved with the user is what guarantees uniqueness:
            # a racing twin collides on it and, retried by save_once, finds the address taken.
            if self.find_user_id(email) is not None:
                raise EmailTaken(email)
            user = make(self.hasher.hash(password))
            # The user last: its position is what read-your-writes waits for (the users view
            # does not follow the index's events).
            return [EmailIndex.claim(email, user.id), user], {"user_id": str(user.id)}

        return self.save_once(idempotency, create)

    def _update(self, user_id: UUID, change: Callable[[User], None]) -> Written[User]:
        return self.changing(lambda: self.get_user(user_id), change)

    def _authenticate(self, account: str, password: str) -> User | None:
        user_id = self.find_user_id(account)
        if user_id is None:
            self._verify_quietly(self._dummy_hash, password)
            return None
        user = self.get_user(user_id)
        return user if self._verify_quietly(user.password_hash, password) else None

    def _verify_quietly(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except VerificationError:
            return False


def _wait_for_the_next_second(changed_at: datetime | None) -> None:
    """Tokens say when they were issued in whole seconds, and identity refuses every token
    issued in or before the second of a password change, staff update or disabling. A log-in
    in that very second waits for the next one (under a second, only right after a change)."""
    if changed_at is None:
        return
    next_second = int(changed_at.timestamp()) + 1
    remaining = next_second - datetime.now(UTC).timestamp()
    if remaining > 0:
        time.sleep(remaining)
