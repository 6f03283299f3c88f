"""Helpers shared by the tests and the benchmarks (tests/bench).

Test folders' conftest.py files hold fixtures only; anything a test, a fixture or a benchmark
imports lives here, by subject, and is imported by its package path (`tests.support.…`).
"""
