"""Test doubles shared by the tests, the benchmarks and the lessons' fast paths (no training, no real model, no network)."""
