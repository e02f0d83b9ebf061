"""Verification of the bank's notifications (issue 7 "Unit: signature checks"; SPEC P-2)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from payments_service.signatures import SignatureInvalid, SignatureStale, sign, verify

SECRET = b"a-shared-secret-of-some-length"
BODY = b'{"event_id":"evt_1","order_id":"x","status":"succeeded"}'
NOW = 1_780_000_000


def check(timestamp: str | None, signature: str | None, body: bytes = BODY, now: float = NOW):
    verify(SECRET, timestamp, signature, body, now=now, tolerance_seconds=300)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"v1={expected}"


def test_a_valid_notification_passes_p2():
    check(str(NOW), sign(SECRET, NOW, BODY))
    check(str(NOW), sign(SECRET, NOW, BODY), now=NOW + 299)  # inside the window, either way
    check(str(NOW), sign(SECRET, NOW, BODY), now=NOW - 299)
    # Rotation: one of several offered signatures matching is enough.
    check(str(NOW), f"v1=00ff, {sign(SECRET, NOW, BODY)}")


@pytest.mark.parametrize(
    ("timestamp", "signature", "body"),
    [
        (str(NOW), sign(b"another-secret-entirely", NOW, BODY), BODY),  # forged
        (str(NOW), sign(SECRET, NOW, BODY), BODY + b" "),  # body changed by one byte
        (str(NOW + 1), sign(SECRET, NOW, BODY), BODY),  # timestamp changed
        (str(NOW), sign(SECRET, NOW, BODY).replace("v1=", "v0="), BODY),  # unknown scheme
        (str(NOW), "", BODY),
        (str(NOW), None, BODY),
        (None, sign(SECRET, NOW, BODY), BODY),
        ("yesterday", sign(SECRET, NOW, BODY), BODY),
        ("-1", sign(SECRET, NOW, BODY), BODY),
        ("١٧٨٠٠٠٠٠٠٠", sign(SECRET, NOW, BODY), BODY),  # non-ASCII digits
    ],
)
def test_forged_or_malformed_is_refused_p2(timestamp, signature, body):
    with pytest.raises(SignatureInvalid):
        check(timestamp, signature, body)


def test_stale_is_refused_even_when_correctly_signed_p2():
    """A replay after the window (or a clock far off) is refused; inside the window a replay is
    a duplicate delivery, made harmless by the payment's state (tests of the domain)."""
    signature = sign(SECRET, NOW, BODY)
    with pytest.raises(SignatureStale):
        check(str(NOW), signature, now=NOW + 301)
    with pytest.raises(SignatureStale):
        check(str(NOW), signature, now=NOW - 301)
    assert SignatureStale("").code == "stale_signature"
    assert SignatureInvalid("").code == "invalid_signature"
