"""Datasets of our own, used from conf/base/catalog.yml."""

from .parquet_table import ParquetTable

__all__ = ["ParquetTable"]
