"""Matcher benchmarks on public intent data sets (see docs/benchmarks.md)."""
