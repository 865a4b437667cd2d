"""Hostile input: fuzzing, tenant and role matrices, secrets (docs/reliability.md)."""
