"""Benchmarks that print their figures (``python -m bench.<name>``); never run by pytest."""
