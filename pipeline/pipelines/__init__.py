"""One folder per pipeline: pure functions in ``nodes.py``, wiring in ``pipeline.py``."""
