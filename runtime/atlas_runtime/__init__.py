"""The shared runtime of every service atlas-gen renders."""
