"""Business logic of the buffs service (handlers referenced by specs/buffs.yaml)."""
