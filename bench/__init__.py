"""Benchmarks of the heavy paths: ``python -m bench`` (``make bench``). Each scenario
prints a table and writes its figures as JSON under ``bench/results/``."""
