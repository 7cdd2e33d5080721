"""Test doubles shared by tests, benchmarks and the synthetic world (never used for course data)."""

from .policies import LinearPolicy

__all__ = ["LinearPolicy"]
