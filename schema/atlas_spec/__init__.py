"""The spec language of atlas-gen, as pydantic models."""
