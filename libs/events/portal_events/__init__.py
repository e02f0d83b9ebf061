"""Public event contracts, envelope, outbox relay and idempotent Kafka consumer."""
