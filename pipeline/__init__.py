"""Glimpse's Kedro project: the batch side that turns a folder of images into searchable artifacts."""

__version__ = "0.1.0"
