"""The demo-collection script: real packages in, a valid manifest and real images out."""

import csv
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from pipeline import demo_collection as dc


def _check_manifest(dest):
    with open(dest / dc.MANIFEST, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "the manifest lists no image"
    assert list(rows[0]) == dc.MANIFEST_COLUMNS
    files = [row["file"] for row in rows]
    assert len(files) == len(set(files)), "a file is listed twice"
    for row in rows:
        path = dest / row["file"]
        assert path.is_file(), row["file"]
        assert row["source_package"] and row["source_kind"] in ("pypi", "debian")
        assert row["licence"], f"{row['file']} has no licence"
        with Image.open(path) as image:
            image.verify()
    return rows


def test_pypi_collection_and_manifest(tmp_path):
    dest = tmp_path / "demo"
    items = dc.build(dest, tmp_path / "cache", debian=False)
    rows = _check_manifest(dest)
    assert len(rows) == len(items) >= 15
    by_file = {row["file"]: row for row in rows}
    cat = by_file["scikit-image/chelsea.png"]
    assert cat["description"].startswith("Chelsea the cat") and cat["licence"] == "CC0-1.0"
    assert by_file["scikit-learn/china.jpg"]["licence"] == "CC-BY-2.0"
    assert all(row["package_version"] for row in rows)


def test_rebuild_is_skipped_when_complete_and_redone_when_a_file_is_missing_or_the_builder_changed(tmp_path):
    dest = tmp_path / "demo"
    dc.build(dest, tmp_path / "cache", debian=False)
    assert dc.is_complete(dest)
    (dest / "scikit-image/coffee.png").unlink()
    assert not dc.is_complete(dest)
    dc.build(dest, tmp_path / "cache", debian=False)
    assert (dest / "scikit-image/coffee.png").is_file()
    assert dc.is_complete(dest)
    (dest / dc.BUILT_BY).write_text("1\n")  # built by an older builder: its files or words may be stale
    assert not dc.is_complete(dest)
    dc.build(dest, tmp_path / "cache", debian=False)
    assert (dest / dc.BUILT_BY).read_text().strip() == dc.BUILDER and dc.is_complete(dest)


def test_main_reports_success(tmp_path):
    assert dc.main(["--dest", str(tmp_path / "d"), "--cache", str(tmp_path / "c"), "--no-debian"]) == 0


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")
def test_debian_package_is_fetched_unpacked_and_described(tmp_path):
    fetched = dc.fetch_deb("lomiri-wallpapers-20.04", tmp_path / "cache")
    if fetched is None:
        probe = subprocess.run(["apt-get", "download", "--print-uris", "lomiri-wallpapers-20.04"], capture_output=True)
        pytest.skip(f"Debian package not downloadable here (apt said {probe.returncode})")
    root, version = fetched
    items = list(dc.DEBIAN_SOURCES["lomiri-wallpapers-20.04"](root, version))
    assert len(items) >= 3
    for source, item in items:
        assert source.is_file()
        assert item.licence.startswith("CC"), item  # per-file licences from the DEP-5 copyright file
        assert " by " in item.description
        assert item.package_version == version


DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: someone
License: GPL-2+

Files: photos/cat.jpg
 photos/dog.jpg
Copyright: a photographer
License: CC-BY-4.0

Files: data/*
License: BSD-3-Clause
"""


def test_dep5_parsing_and_matching(tmp_path):
    doc = tmp_path / "usr/share/doc/pkg"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(DEP5)
    stanzas = dc.dep5_licences(tmp_path, "pkg")
    assert stanzas == [
        (["*"], "GPL-2+"),
        (["photos/cat.jpg", "photos/dog.jpg"], "CC-BY-4.0"),
        (["data/*"], "BSD-3-Clause"),
    ]
    assert dc.licence_for(stanzas, "usr/share/backgrounds/dog.jpg") == "CC-BY-4.0"
    assert dc.licence_for(stanzas, "usr/share/pkg/data/other.jpg") == "GPL-2+"  # unrelated wildcard not guessed


def test_free_form_gpl_copyright(tmp_path):
    doc = tmp_path / "usr/share/doc/old"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "It is under the terms of the GNU General Public License as published by the FSF; either\n"
        "version 2 of the License, or (at your option) any later version.\n"
    )
    assert dc.dep5_licences(tmp_path, "old") == [(["*"], "GPL-2+")]


def test_stamp_description_takes_the_english_line(tmp_path):
    text = tmp_path / "cat.txt"
    text.write_text("de.utf8=Eine Katze.\nA cat sitting.\nfr.utf8=Un chat.\n", encoding="utf-8")
    assert dc.stamp_description(text) == "A cat sitting."


def test_photo_cutouts_are_told_from_clip_art(tmp_path):
    from tests.fixtures.images import photo

    photo(128, 128, seed=3).save(tmp_path / "photo.png")
    flat = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    flat.paste((200, 30, 30, 255), (20, 20, 100, 100))
    flat.save(tmp_path / "flat.png")
    assert dc.is_photo_cutout(tmp_path / "photo.png")
    assert not dc.is_photo_cutout(tmp_path / "flat.png")


def test_kphotoalbum_photos_are_turned_the_way_the_album_shows_them(tmp_path):
    """The album stores rotations in its index, not the files: a photo marked 90° is copied turned clockwise,
    with its EXIF kept; an unmarked one is the installed file itself. Its tags are said in words."""
    demo = tmp_path / "usr/share/kphotoalbum/demo"
    demo.mkdir(parents=True)
    sideways = Image.new("RGB", (80, 40), (20, 20, 200))
    sideways.paste((220, 20, 20), (0, 0, 40, 40))  # red on the left: on top once turned clockwise
    exif = Image.Exif()
    exif[0x0110] = "TEST CAMERA"
    sideways.save(demo / "wayne.jpg", quality=95, exif=exif)
    Image.new("RGB", (60, 40), (0, 120, 0)).save(demo / "grass.jpg")
    (demo / "index.xml").write_text(
        '<KPhotoAlbum><images><image file="wayne.jpg" description="Wayne and Jim live here." angle="90">'
        '<options><option name="Places"><value value="Las Vegas"/></option><option name="Events"><value value="fun"/>'
        '</option><option name="People"><value value="Jim"/><value value="Wayne"/></option></options></image>'
        '<image file="grass.jpg" angle="0"><options><option name="Places"><value value="Skagen"/></option></options>'
        "</image></images></KPhotoAlbum>"
    )
    items = {item.file: (source, item) for source, item in dc.kphotoalbum_items(tmp_path, "1.0")}
    source, item = items["kphotoalbum/wayne.jpg"]
    assert item.description == "Wayne and Jim live here. Jim and Wayne in Las Vegas."  # tags in words, no events
    told = ET.fromstring(
        '<image description="Jim in Las Vegas"><option name="People"><value value="Jim"/></option></image>'
    )
    assert dc.album_tags(told, "Jim in Las Vegas") == ""  # the description names them all already
    assert items["kphotoalbum/grass.jpg"][1].description == "Skagen."
    assert item.original_path == "/usr/share/kphotoalbum/demo/wayne.jpg"
    with Image.open(source) as turned:
        assert turned.size == (40, 80)
        top, bottom = turned.getpixel((20, 10)), turned.getpixel((20, 70))
        assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0], (top, bottom)
        assert turned.getexif()[0x0110] == "TEST CAMERA"
    assert items["kphotoalbum/grass.jpg"][0] == demo / "grass.jpg"
    with pytest.raises(ValueError, match=r"bad\.jpg: the album's rotation 'ninety' is not a whole number"):
        dc.album_angle(ET.fromstring('<image file="bad.jpg" angle="ninety"/>'))
    with pytest.raises(ValueError, match="not a quarter turn"):
        dc.upright(demo / "grass.jpg", 45, tmp_path / "out")
