"""The `Idempotency-Key` header every command that creates something accepts (DESIGN "HTTP").

A repeat with the same key (a double click, a client retrying after a timeout) answers what the
first one did and records nothing; the same key with a different body is 422 (as the IETF
Idempotency-Key draft asks: the payload, not the state, is wrong). The work is done by
`portal_events.application.ServiceApplication.save_once`; this is only the header's contract.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="Optional; a unique value per intended command (e.g. a UUID). A repeat with "
        "the same key answers what the first one did and records nothing; the same key with a "
        "different body is 422 `idempotency_key_reused`.",
        examples=["7c1f7e9e-3c4b-4a0e-8a57-1d7d6a1b2f10"],
    ),
]
