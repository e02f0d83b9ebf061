"""Every Kafka topic of the portal, declared once.

Contracts, settings and integration modules name topics through the constants here; the local
stack and docker-compose's init container create exactly `declared_topics(services)`, where
`services` comes from the stack's list of services (deploy/services.toml). Names follow
DESIGN "Between services": `<producer>.<aggregate>.events` for public events, one
`<service>.dead-letter` per service for messages its consumers could not take.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    retention: timedelta | None  # None: kept forever

    @property
    def configs(self) -> dict[str, str]:
        """Kafka topic configs, as the admin API takes them."""
        if self.retention is None:
            return {"retention.ms": "-1"}
        return {"retention.ms": str(int(self.retention.total_seconds() * 1000))}


# Public events, one topic per producing aggregate. Busy topics get 3 partitions so that a
# consumer group can spread the work over replicas.
IDENTITY_USER_EVENTS = "identity.user.events"
REQUESTS_REQUEST_EVENTS = "requests.request.events"
PROTOCOL_REGISTRATION_EVENTS = "protocol.registration.events"
PAYMENTS_PAYMENT_EVENTS = "payments.payment.events"
FINES_FINE_EVENTS = "fines.fine.events"
CERTIFICATES_CERTIFICATE_EVENTS = "certificates.certificate.events"
BUSINESS_TAX_EVENTS = "business.tax.events"

# Public events are kept forever: read models built only from them (the back-office worklist,
# SPEC X-3) are rebuilt from offset zero, so an event deleted by retention would be a case lost.
EVENT_TOPICS = tuple(
    Topic(name, partitions=3, retention=None)
    for name in (
        IDENTITY_USER_EVENTS,
        REQUESTS_REQUEST_EVENTS,
        PROTOCOL_REGISTRATION_EVENTS,
        PAYMENTS_PAYMENT_EVENTS,
        FINES_FINE_EVENTS,
        CERTIFICATES_CERTIFICATE_EVENTS,
        BUSINESS_TAX_EVENTS,
    )
)

# The auditors' history (SPEC X-1, `portal_events.sealer`): every stored event of every service,
# private ones too, with its link in the service's hash chain (keyed by service, so one service's
# events stay in order), and the chains' checkpoints, which the audit service keeps so that an
# edit of a service's database cannot also rewrite them. Kept forever, like the events.
AUDIT_HISTORY = "audit.history"
AUDIT_CHECKPOINTS = "audit.checkpoints"
AUDIT_TOPICS = (
    Topic(AUDIT_HISTORY, partitions=3, retention=None),
    Topic(AUDIT_CHECKPOINTS, partitions=1, retention=None),
)

# Kept longer than events: an operator replays them after a fix.
DEAD_LETTER_PARTITIONS = 1
DEAD_LETTER_RETENTION = timedelta(days=30)

# Scratch topic for the libraries' integration tests.
TEST_EVENTS = "portal.test.events"
TEST_TOPIC = Topic(TEST_EVENTS, partitions=3, retention=timedelta(days=1))


def dead_letter_topic(service: str) -> str:
    """Where `service`'s consumers put the messages they refuse (undecodable, invalid, rejected)."""
    return f"{service}.dead-letter"


def declared_topics(services: Iterable[str]) -> tuple[Topic, ...]:
    """Every topic a portal running `services` needs: the event topics, the audit topics, one
    dead-letter topic per service and the scratch topic."""
    dead_letters = tuple(
        Topic(dead_letter_topic(s), DEAD_LETTER_PARTITIONS, DEAD_LETTER_RETENTION) for s in services
    )
    return (*EVENT_TOPICS, *AUDIT_TOPICS, *dead_letters, TEST_TOPIC)
