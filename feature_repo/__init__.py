"""Feast feature repository: definitions (definitions.py) and store configuration (store.py)."""
