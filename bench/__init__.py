"""Benchmarks: performance figures are printed here, never asserted in unit tests."""
