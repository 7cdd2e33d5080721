"""Test doubles shared by the tests, the benchmarks and the lessons' fast paths (no training, no real
model, no network; never used for the course's own results)."""

from .policies import LinearPolicy

__all__ = ["LinearPolicy"]
