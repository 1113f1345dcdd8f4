"""Datasets of our own, used from conf/base/catalog.yml."""

from .json_file import JsonFile
from .parquet_table import ParquetTable
from .vector_index import VectorIndexes

__all__ = ["JsonFile", "ParquetTable", "VectorIndexes"]
