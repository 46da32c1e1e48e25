"""atlas-gen: render declarative service specs into Python microservices."""

__version__ = "0.1.0"
