import pandas as pd
import pytest

from pipeline.datasets import ParquetTable


def test_missing_ok_loads_empty(tmp_path):
    assert ParquetTable(str(tmp_path / "none.parquet"), missing_ok=True).load().empty


def test_missing_without_missing_ok_raises(tmp_path):
    from kedro.io import DatasetError

    with pytest.raises(DatasetError):
        ParquetTable(str(tmp_path / "none.parquet")).load()


def test_round_trip_and_no_temp_files_left(tmp_path):
    table = ParquetTable(str(tmp_path / "sub" / "t.parquet"))
    frame = pd.DataFrame({"a": [1, 2], "b": [b"x", b"y"]})
    table.save(frame)
    pd.testing.assert_frame_equal(table.load(), frame)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["t.parquet"]


def test_failed_save_keeps_the_previous_table(tmp_path):
    table = ParquetTable(str(tmp_path / "t.parquet"))
    table.save(pd.DataFrame({"a": [1]}))
    unserialisable = pd.DataFrame({"a": [object()]})
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's error type is not part of the contract
        table.save(unserialisable)
    assert table.load()["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
