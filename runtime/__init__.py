"""The Tamaru service runtime: plumbing written once and shared by every service.

Configuration, database and migrations, the transactional outbox and inbox, NATS commands and
JetStream, idempotency keys, program config, auth, gRPC server bootstrap and telemetry.
Services import from here; this package never imports a service.
"""
