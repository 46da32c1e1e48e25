"""Business logic of the drops service (handlers referenced by specs/drops.yaml)."""
