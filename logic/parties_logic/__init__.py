"""Business logic of the parties service (handlers referenced by specs/parties.yaml)."""
