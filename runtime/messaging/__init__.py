"""NATS plumbing: connections, JetStream streams, commands (request/reply), the outbox relay
and idempotent event consumers."""
