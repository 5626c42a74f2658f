"""Benchmarks: each job against a baseline measured in the same run (``make bench``)."""
