import logging
import os

import pandas as pd
import pytest
import yaml

from models.image_formats import SHORT_NAMES
from pipeline.pipelines.ingest import nodes
from pipeline.pipelines.ingest.nodes import FILE_COLUMNS, IMAGE_COLUMNS, REJECT_COLUMNS, ingest_images, scan_folder
from tests.fixtures.images import (
    HOSTILE_NON_IMAGES,
    encode,
    heic_start,
    jpeg_with_exif,
    photo,
    png_bomb,
    truncated_jpeg,
    write,
)
from tests.fixtures.project import PROJECT_ROOT


def params(root, **overrides):
    base = {
        "root": str(root),
        "extensions": [".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"],
        "max_bytes": 5_000_000,
        "max_pixels": 50_000_000,
        "thumbnail_size": 128,
        "thumbnail_quality": 80,
        "workers": 2,
    }
    return base | overrides


EMPTY = pd.DataFrame()


def run(root, previous=(EMPTY, EMPTY, EMPTY), **overrides):
    p = params(root, **overrides)
    return ingest_images(scan_folder(p), *previous, p)


@pytest.fixture
def counted_reads(monkeypatch):
    """Count real file reads (the function still runs)."""
    calls = []
    real = nodes._read_inside

    def spy(root, relative, max_bytes):
        calls.append(relative)
        return real(root, relative, max_bytes)

    monkeypatch.setattr(nodes, "_read_inside", spy)
    return calls


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    write(root / "a.jpg", jpeg_with_exif(seed=1))
    write(root / "nested/deeper/b.png", encode(photo(seed=2), "PNG"))
    write(root / "c.webp", encode(photo(seed=3), "WEBP"))
    write(root / "notes.txt", b"not scanned: wrong extension")
    write(root / ".hidden.jpg", encode(photo(seed=4), "JPEG"))
    return root


def test_scan_lists_images_recursively_and_skips_others(folder):
    listing = scan_folder(params(folder))
    assert list(listing.columns) == ["path", "size", "mtime_ns"]
    assert listing["path"].tolist() == ["a.jpg", "c.webp", "nested/deeper/b.png"]


def test_scan_of_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ingest\.root"):
        scan_folder(params(tmp_path / "nope"))


def test_first_run_records_everything(folder):
    files, images, rejects = run(folder)
    assert list(files.columns) == FILE_COLUMNS
    assert list(images.columns) == IMAGE_COLUMNS
    assert list(rejects.columns) == REJECT_COLUMNS
    assert len(files) == 3 and len(images) == 3 and rejects.empty
    row = images.set_index("path").loc["a.jpg"]
    assert row["camera"] == "Acme Shooter 3000" and row["exif_datetime"] == "2021-07-04T18:30:00"
    assert row["format"] == "jpeg" and row["bytes"] == (folder / "a.jpg").stat().st_size
    assert all(len(thumb) > 100 for thumb in images["thumbnail"])


def test_rerun_reads_no_unchanged_file(folder, counted_reads):
    first = run(folder)
    counted_reads.clear()
    second = run(folder, previous=first)
    assert counted_reads == []
    for before, after in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(before, after)


def test_touched_file_is_reread_but_verified_by_hash(folder, counted_reads):
    first = run(folder)
    stat = (folder / "a.jpg").stat()
    os.utime(folder / "a.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    counted_reads.clear()
    files, images, _ = run(folder, previous=first)
    assert counted_reads == ["a.jpg"]
    pd.testing.assert_frame_equal(images, first[1])  # same content: same image, same ingest time
    assert files.set_index("path").loc["a.jpg", "mtime_ns"] == stat.st_mtime_ns + 5_000_000_000


def test_changed_added_and_deleted_files(folder):
    first = run(folder)
    old_id = first[0].set_index("path").loc["c.webp", "image_id"]
    write(folder / "c.webp", encode(photo(seed=99), "WEBP"))
    write(folder / "new.bmp", encode(photo(seed=5), "BMP"))
    (folder / "nested/deeper/b.png").unlink()
    files, images, _ = run(folder, previous=first)
    assert files["path"].tolist() == ["a.jpg", "c.webp", "new.bmp"]
    assert old_id not in set(images["image_id"])
    assert set(images["image_id"]) == set(files["image_id"])


def test_copies_share_one_image(folder):
    write(folder / "copy/of-a.jpg", (folder / "a.jpg").read_bytes())
    files, images, _ = run(folder)
    assert len(files) == 4 and len(images) == 3
    assert images.set_index("image_id").loc[files.set_index("path").loc["a.jpg", "image_id"], "path"] == "a.jpg"


def test_every_kind_of_bad_file_is_rejected_with_a_reason_and_the_run_goes_on(folder, counted_reads):
    write(folder / "bad/empty.jpg", b"")
    write(folder / "bad/truncated.jpg", truncated_jpeg())
    write(folder / "bad/bomb.png", png_bomb(12_000))
    write(folder / "bad/huge.tiff", b"II*\x00" + b"\x00" * 5_000_001)
    for name, data in HOSTILE_NON_IMAGES.items():
        write(folder / "bad" / name, data)
    first = run(folder)
    _, images, rejects = first
    assert len(images) == 3  # the good ones are all there
    reasons = dict(zip(rejects["path"], rejects["reason"], strict=True))
    assert reasons == {
        "bad/empty.jpg": "empty",
        "bad/truncated.jpg": "corrupt",
        "bad/bomb.png": "decompression_bomb",
        "bad/huge.tiff": "too_large",
        **{f"bad/{name}": "not_an_image" for name in HOSTILE_NON_IMAGES},
    }
    assert rejects["detail"].str.len().min() > 5
    assert "bad/huge.tiff" not in counted_reads  # refused from its size alone
    counted_reads.clear()
    second = run(folder, previous=first)
    assert counted_reads == []  # unchanged rejects are not re-read either
    pd.testing.assert_frame_equal(second[2], rejects)


def test_the_configured_extensions_cover_every_format_read_and_heic(folder, caplog):
    configured = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters.yml").read_text())["ingest"]["extensions"]
    assert {f".{short}" for short in SHORT_NAMES.values()} <= set(configured) and {".heic", ".heif"} <= set(configured)
    write(folder / "phone/IMG_0001.HEIC", heic_start())
    write(folder / "phone/IMG_0002.heic", heic_start(b"mif1", (b"heic",)))
    write(folder / "phone/IMG_0003.heif", heic_start(b"heix", ()))
    write(folder / "d.avif", encode(photo(seed=5), "AVIF"))
    with caplog.at_level(logging.WARNING, logger=nodes.__name__):
        _, images, rejects = run(folder, extensions=configured)
    assert sorted(images["format"]) == ["avif", "jpeg", "png", "webp"]
    assert set(rejects["reason"]) == {"unsupported_format"} and len(rejects) == 3
    # The log says why, once per reason, with the first paths: no need to open the rejects table to learn it.
    said = [r.getMessage() for r in caplog.records if "rejected as" in r.getMessage()]
    assert said == [
        "ingest: 3 rejected as unsupported_format (HEIC and HEIF pictures (an iPhone's usual format) cannot be read; "
        "save them as JPEG and try again): phone/IMG_0001.HEIC, phone/IMG_0002.heic and 1 more"
    ]


def test_a_name_that_is_not_utf8_is_refused_and_every_table_still_saves(folder, tmp_path, counted_reads):
    """A file named under Latin-1 ("café" as the byte e9) made saving the tables fail, and the run with it."""
    (folder / "old disk").mkdir()
    with open(os.fsencode(folder / "old disk") + b"/caf\xe9.jpg", "wb") as handle:
        handle.write(encode(photo(seed=9), "JPEG"))
    write(folder / "new\nline.jpg", encode(photo(seed=10), "JPEG"))  # odd but UTF-8: read as any other
    first = run(folder)
    files, images, rejects = first
    assert rejects[["path", "reason"]].values.tolist() == [["old disk/caf\\xe9.jpg", "name_not_utf8"]]
    assert "rename it" in rejects["detail"].iloc[0]
    assert not any("caf" in path for path in counted_reads)  # refused unread
    assert "new\nline.jpg" in set(files["path"]) and len(images) == 4
    for name, table in zip(("files", "images", "rejects"), first, strict=True):
        table.to_parquet(tmp_path / f"{name}.parquet")  # raised UnicodeEncodeError before
    counted_reads.clear()
    second = run(folder, previous=first)
    assert counted_reads == [] and second[2]["path"].tolist() == rejects["path"].tolist()


def test_a_fixed_reject_is_picked_up(folder):
    write(folder / "late.jpg", truncated_jpeg())
    first = run(folder)
    assert first[2]["path"].tolist() == ["late.jpg"]
    write(folder / "late.jpg", encode(photo(seed=8), "JPEG"))
    files, _, rejects = run(folder, previous=first)
    assert rejects.empty and "late.jpg" in set(files["path"])


def test_symlink_escaping_the_folder_is_rejected(folder, tmp_path):
    secret = write(tmp_path / "outside" / "secret.jpg", encode(photo(seed=6), "JPEG"))
    (folder / "link.jpg").symlink_to(secret)
    (folder / "dangling.jpg").symlink_to(tmp_path / "missing.jpg")
    _, images, rejects = run(folder)
    reasons = dict(zip(rejects["path"], rejects["reason"], strict=True))
    assert reasons["link.jpg"] == "outside_root"
    assert reasons["dangling.jpg"] in ("outside_root", "unreadable")
    assert len(images) == 3


def test_empty_folder_gives_empty_tables(tmp_path):
    (tmp_path / "empty").mkdir()
    files, images, rejects = run(tmp_path / "empty")
    assert files.empty and images.empty and rejects.empty
    assert list(images.columns) == IMAGE_COLUMNS
