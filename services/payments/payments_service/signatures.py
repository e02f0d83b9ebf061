"""Verification of the bank's signed notifications (SPEC P-2, issue 7).

The bank signs each notification attempt: `Bank-Timestamp: <unix seconds>` and
`Bank-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}." + raw body)>` (several
comma-separated `v1=` values are accepted, for a secret being rotated). A notification is
believed only if one of them matches, compared in constant time over the exact bytes received,
and its timestamp is within the tolerance window of our clock (either way): an old notification
replayed later is refused as stale. A replay inside the window is byte for byte a duplicate
delivery, which the payment's state machine makes harmless.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"


class SignatureRefused(Exception):
    """The notification cannot be believed; `code` says why (answered 401)."""

    code = "invalid_signature"


class SignatureInvalid(SignatureRefused):
    """No signature, a malformed one, or none that matches: forged or corrupted."""


class SignatureStale(SignatureRefused):
    """Correctly signed, but outside the tolerance window: an old message replayed, or a clock
    far off."""

    code = "stale_signature"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `Bank-Signature` value for `body` sent at `timestamp` (what the bank computes)."""
    return f"{SCHEME}={_mac(secret, str(timestamp), body)}"


def verify(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float,
) -> None:
    """Return if the notification is authentic and fresh; else raise a SignatureRefused."""
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureInvalid("Bank-Timestamp is missing or not a unix time.")
    expected = _mac(secret, timestamp, body).encode()
    offered = [
        value.strip().removeprefix(f"{SCHEME}=").encode()
        for value in (signature or "").split(",")
        if value.strip().startswith(f"{SCHEME}=")
    ]
    # Every offered value is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(expected, value) for value in offered]
    if not any(matches):
        raise SignatureInvalid("The notification's signature does not match.")
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise SignatureStale("The notification's timestamp is outside the tolerance window.")


def _mac(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
