"""The redeem service."""
