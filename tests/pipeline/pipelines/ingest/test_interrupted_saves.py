"""The ingest node after a run killed between its saves (files table written, images table not): the files it
knew then are read again, and the tables come out as from an uninterrupted run. (The same state reached with a
real SIGKILL of `kedro run`: tests/pipeline/test_resume.py.)"""

import pandas as pd

from pipeline.pipelines.ingest.nodes import ingest_images, scan_folder
from tests.fixtures.images import encode, photo, write
from tests.pipeline.pipelines.ingest.test_nodes import params

EMPTY = pd.DataFrame()


def tables(root, previous=(EMPTY, EMPTY, EMPTY)):
    p = params(root)
    return ingest_images(scan_folder(p), *previous, p)


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.drop(columns=["ingested_at"]), want.drop(columns=["ingested_at"]))


def test_first_run_killed_after_the_files_table(tmp_path):
    for i in range(4):
        write(tmp_path / f"{i}.jpg", encode(photo(seed=i), "JPEG"))
    files, images, rejects = tables(tmp_path)
    # killed after ingested_files.parquet was saved: no images table, no rejects table
    again = tables(tmp_path, (files, EMPTY, EMPTY))
    pd.testing.assert_frame_equal(again[0], files)
    same(again[1], images)
    pd.testing.assert_frame_equal(again[2], rejects)


def test_later_run_killed_after_the_files_table(tmp_path):
    for i in range(3):
        write(tmp_path / f"{i}.jpg", encode(photo(seed=i), "JPEG"))
    old_files, old_images, old_rejects = tables(tmp_path)
    write(tmp_path / "new.png", encode(photo(seed=9), "PNG"))
    files, images, _ = tables(tmp_path, (old_files, old_images, old_rejects))
    # killed after the new files table was saved: the images table is the one before the new file
    again = tables(tmp_path, (files, old_images, old_rejects))
    same(again[1], images)
    kept = again[1][again[1]["image_id"].isin(old_images["image_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, old_images)  # known images keep their rows (and ingested_at)
    pd.testing.assert_frame_equal(again[0], files)
