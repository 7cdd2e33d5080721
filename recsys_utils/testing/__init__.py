"""Test doubles shared by the test suite and the lessons' smoke paths (no training, no downloads)."""
