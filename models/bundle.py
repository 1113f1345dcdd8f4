"""A model bundle: the ONNX files, tokenizer and manifest that the server needs to answer queries.

Layout of a bundle folder::

    manifest.json   spec, dim, version, files, preprocessing, tokenizer settings
    text.onnx       (input_ids, attention_mask) int64 → embedding, dynamic batch and sequence axes
    text.int8.onnx  the same graph with int8 weights (per output channel): what the server encodes queries with
    tokenizer.json  `tokenizers` file for text.onnx
    image.onnx      pixels float32 (n, 3, s, s) → embedding, image→image features, class probabilities;
                    dynamic batch axis
    classes.json    {"ids": WordNet ids, "names": spoken names} of the class-probability columns

No torch here: the server reads bundles.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

MANIFEST = "manifest.json"
# 2: image.onnx has a third output (class probabilities) and the bundle carries classes.json.
# 3: the text spec carries the query prompt.
# 4: the image preprocessing may ask for corner views (ImagePreprocess.corner_crop).
FORMAT = 4


@dataclass(frozen=True)
class TextSpec:
    file: str = "text.onnx"
    tokenizer: str = "tokenizer.json"
    max_length: int = 256
    pad_id: int = 0
    pad_to: int | None = None
    # The int8 graph queries are encoded with (1.5-2× faster on one query, coco-mini recall unchanged:
    # docs/search-api.md, "Speed"); None in bundles exported before it, whose queries use ``file``.
    query_file: str | None = None
    # How a search query is worded before it is encoded ("{}": as typed). ConSE's image side is a mixture of
    # "a photo of a {class}." embeddings, and a query worded the same way lands nearer it: "a photo of {}" moved
    # coco-mini text→image R@1/5/10 from 0.297/0.695/0.815 to 0.315/0.728/0.830 (docs/models.md).
    query_prompt: str = "{}"


@dataclass(frozen=True)
class ImageSpec:
    file: str = "image.onnx"
    preprocess: dict = field(default_factory=dict)
    classes: str | None = None


@dataclass(frozen=True)
class BundleManifest:
    spec: str
    dim: int
    version: str
    text: TextSpec
    image: ImageSpec | None
    extra: dict = field(default_factory=dict)
    format: int = 1

    def save(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, folder: Path) -> BundleManifest:
        """The manifest in ``folder``; keys added by a newer export are ignored (a server keeps serving a bundle a
        newer pipeline wrote), a damaged or incomplete manifest is a ValueError naming the file."""
        path = Path(folder) / MANIFEST
        if not path.exists():
            raise FileNotFoundError(f"no model bundle at {folder} ({MANIFEST} missing)")
        try:
            raw = json.loads(path.read_text())
            return cls(
                spec=str(raw["spec"]),
                dim=int(raw["dim"]),
                version=str(raw["version"]),
                text=_checked(_known(TextSpec, raw["text"])),
                image=_known(ImageSpec, raw["image"]) if raw.get("image") else None,
                extra=raw.get("extra", {}),
                format=int(raw.get("format", 1)),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(f"the bundle manifest {path} is damaged or incomplete ({exc!r})") from None

    def classes(self, folder: Path) -> tuple[list[str], list[str]]:
        """(WordNet ids, spoken names) of the image graph's class-probability columns; empty without them."""
        if self.image is None or not self.image.classes:
            return [], []
        raw = json.loads((Path(folder) / self.image.classes).read_text())
        return list(raw["ids"]), list(raw["names"])


def content_version(folder: Path, names: list[str], settings: str = "") -> str:
    """A short hash of the bundle's files and ``settings`` (what the manifest adds to how they are used, such as
    the query prompt): equal files and settings, equal version, on any machine."""
    digest = hashlib.sha256(settings.encode())
    for name in sorted(names):
        digest.update(name.encode())
        with open(folder / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


def _checked(text: TextSpec) -> TextSpec:
    """The text spec, if its query prompt has one place for the query and no other braces."""
    prompt = text.query_prompt
    rest = prompt.replace("{}", "", 1) if isinstance(prompt, str) else "{"
    if "{}" not in str(prompt) or "{" in rest or "}" in rest:
        raise ValueError(f"query_prompt {prompt!r} needs exactly one {{}} and no other braces")
    return text


def _known(spec: type, values: dict) -> object:
    """``spec`` built from the keys it knows in ``values``."""
    names = {f.name for f in fields(spec)}
    return spec(**{k: v for k, v in values.items() if k in names})
