"""Everything configurable about the payments service, from the environment.

The two secrets shared with the bank (`BANK_API_KEY`, `BANK_NOTIFICATION_SECRET`) have no
default: the service refuses to start without them (`check_secrets`), never in the repository.
"""

from __future__ import annotations

from portal_web import ServiceSettings
from pydantic import Field, SecretStr

MIN_SECRET_LENGTH = 16


class PaymentsSettings(ServiceSettings):
    postgres_dbname: str = "payments"

    portal_public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The gateway's public base URL, as browsers and the bank reach the portal",
    )
    bank_url: str = Field("http://127.0.0.1:8202", description="Base URL of the bank's API")
    bank_merchant_id: str = "municipality"
    bank_api_key: SecretStr = SecretStr("")
    bank_notification_secret: SecretStr = SecretStr("")
    bank_timeout_seconds: float = 5.0
    # How far a notification's timestamp may be from our clock (replays older are refused).
    bank_notification_tolerance_seconds: float = 300.0

    # A payment without a result this long is asked about at the bank; open this long, it is
    # cancelled at the bank and expires once the bank confirms it was not paid.
    payment_reconcile_after_seconds: float = 60.0
    payment_expire_after_seconds: float = 900.0
    payment_reconciler_poll_seconds: float = 1.0
    # The checkout page waits this long for a just-requested payment to arrive (from Kafka);
    # the return page this long for the bank's notification.
    payment_checkout_wait_seconds: float = 5.0
    payment_return_wait_seconds: float = 5.0

    @property
    def notify_url(self) -> str:
        return f"{self.portal_public_url.rstrip('/')}/payments/bank/notifications"

    def return_url(self, payment_id: object) -> str:
        return f"{self.portal_public_url.rstrip('/')}/payments/{payment_id}/return"

    def check_secrets(self) -> None:
        """Refuse to run without the secrets shared with the bank."""
        for name in ("bank_api_key", "bank_notification_secret"):
            value: SecretStr = getattr(self, name)
            if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
                raise RuntimeError(
                    f"{name.upper()} must be set (at least {MIN_SECRET_LENGTH} characters)"
                )
