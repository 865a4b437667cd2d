"""The bank test (`python -m chaos`): Jepsen-style checks of Tamaru under process faults.

Many clients earn, thank, spend and order points across several programs while a nemesis
SIGKILLs and restarts services, restarts NATS and restarts PostgreSQL. Every request is recorded
with its idempotency key and outcome; afterwards the checker compares that history with the
ledger, billing, the outboxes and the event stream, and prints a verdict. See
docs/reliability.md ("Bank test").
"""
