"""Database plumbing: one declarative base, an async engine per service schema, the unit of
work (with the transactional outbox) and Alembic migrations."""
