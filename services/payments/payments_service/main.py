"""The payments service, declared from the kit: `uvicorn payments_service.main:app`.

It consumes PaymentRequested from the owners of payables, sends payers to the bank's hosted
page, believes the bank's result only from a verified notification or its own status query
(the reconciler worker), and publishes each payment's end once (SPEC P-1, P-2). It refuses to
start without the secrets it shares with the bank.
"""

from __future__ import annotations

from portal_events.topics import PAYMENTS_PAYMENT_EVENTS
from portal_web.service import Runtime, Service

from payments_service.api import ERRORS, router
from payments_service.application import PaymentsApplication
from payments_service.bank import BANK, HttpBank
from payments_service.integration import PAYABLE_OWNER_TOPICS, PUBLIC_EVENTS, handlers
from payments_service.reconciler import Reconciler
from payments_service.settings import PaymentsSettings
from payments_service.views import PaymentSummaryProjection, PaymentSummaryView


def check_secrets(runtime: Runtime) -> None:
    runtime.settings.check_secrets()


service = Service(
    name="payments",
    title="Payments service",
    description="Card payments through the bank's hosted page for every payable (SPEC P-1, "
    "F-6): signed server-to-server results, at most one open payment per payable, each final "
    "once, abandoned ones expired after asking the bank (SPEC P-2). The portal never sees a "
    "card.",
    settings=PaymentsSettings,
    application=PaymentsApplication,
    routers=[router],
    errors=ERRORS,
    read_models=[(PaymentSummaryProjection, PaymentSummaryView)],
    publishes={PAYMENTS_PAYMENT_EVENTS: PUBLIC_EVENTS},
    # PaymentRequested travels on the topic of the service that owns the payable.
    consumes=list(PAYABLE_OWNER_TOPICS),
    handlers=handlers,
    resources={BANK: HttpBank.of},
    workers={"reconciler": Reconciler.of},
    on_startup=check_secrets,
)
app = service.create_app()
