"""The earn service."""
