"""Test doubles shared by the tests, the benchmarks and the fast lesson paths (no real model, no network)."""
