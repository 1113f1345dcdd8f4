"""Benchmarks, each run as `python bench/<name>.py`; a package so that tests and benches import `bench.<name>`."""
