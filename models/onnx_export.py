"""Export an encoder's towers to ONNX (dynamo exporter) and check them against torch.

Export tooling is kept apart from serving: this module imports torch, ``models.runtime`` never does.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.atomic import staged_folder
from models.bundle import FORMAT, BundleManifest, ImageSpec, TextSpec, content_version
from models.encoders.base import Encoder

logger = logging.getLogger(__name__)


class _TextForExport(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, attention_mask)


TEXT_OUTPUT = "text_embedding"
QUERY_FILE = "text.int8.onnx"
IMAGE_OUTPUTS = ["image_embedding", "image_features", "class_probabilities"]


def export_onnx(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    names: list[str],
    outputs: list[str],
    dynamic: dict,
) -> None:
    """One graph, one file (weights inline), with the given dynamic axes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own chatter about opsets and deprecated flags
        program = torch.onnx.export(
            module.eval(),
            example,
            dynamo=True,
            input_names=names,
            output_names=outputs,
            dynamic_shapes=dynamic,
            optimize=True,
            verbose=False,
        )
    program.save(str(path), external_data=False)


def quantize_text(source: Path, target: Path) -> None:
    """The int8 query graph: weights quantised per output channel, activations at run time (dynamic).
    Per-tensor int8 cost 2.5 points of coco-mini R@10; per channel costs none (docs/search-api.md, "Speed")."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # it logs advice to pre-process the model on the root logger
    try:
        quantize_dynamic(str(source), str(target), per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def export_bundle(encoder: Encoder, folder: Path, with_image: bool = True) -> BundleManifest:
    """Write text.onnx (+ image.onnx), tokenizer.json and manifest.json into ``folder`` atomically."""
    text_model, text_spec, tokenizer_file = encoder.text_export()
    with staged_folder(Path(folder)) as staging:
        batch, seq = (
            torch.export.Dim("batch", min=1, max=4096),
            torch.export.Dim("seq", min=2, max=text_spec.max_length),
        )
        ids, mask = encoder.tokenizer(["an example sentence for export", "two", "three words here"])
        export_onnx(
            _TextForExport(text_model),
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            staging / text_spec.file,
            ["input_ids", "attention_mask"],
            [TEXT_OUTPUT],
            {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
        )
        text_spec = replace(text_spec, query_file=QUERY_FILE)
        quantize_text(staging / text_spec.file, staging / QUERY_FILE)
        shutil.copyfile(tokenizer_file, staging / text_spec.tokenizer)
        files = [text_spec.file, QUERY_FILE, text_spec.tokenizer]
        image_spec = None
        if with_image:
            from models.encoders.torch_towers import imagenet_class_ids

            image_spec = ImageSpec(preprocess=encoder.preprocess.to_dict(), classes="classes.json")
            classes = {"ids": imagenet_class_ids(), "names": list(encoder.class_names)}
            (staging / image_spec.classes).write_text(json.dumps(classes, indent=0))
            size = encoder.preprocess.size
            export_onnx(
                encoder.image_export(),
                (torch.zeros(2, 3, size, size),),
                staging / image_spec.file,
                ["pixels"],
                IMAGE_OUTPUTS,
                {"pixels": {0: torch.export.Dim("batch", min=1, max=4096)}},
            )
            files += [image_spec.file, image_spec.classes]
        manifest = BundleManifest(
            spec=encoder.spec,
            dim=encoder.dim,
            version=content_version(staging, files, settings=_settings(text_spec, image_spec)),
            text=text_spec,
            image=image_spec,
            format=FORMAT,
        )
        manifest.save(staging)
    return manifest


def _settings(text_spec: TextSpec, image_spec: ImageSpec | None) -> str:
    """What the manifest adds to the files about how they are used: part of the bundle's version."""
    preprocess = json.dumps(image_spec.preprocess, sort_keys=True) if image_spec else ""
    return f"query_prompt={text_spec.query_prompt};preprocess={preprocess}"


@dataclass(frozen=True)
class Parity:
    rows: int
    min_cosine: float
    max_abs_diff: float

    def holds(self, threshold: float = 0.9999) -> bool:
        return self.min_cosine >= threshold


def compare(reference: np.ndarray, candidate: np.ndarray) -> Parity:
    cosine = np.sum(reference * candidate, axis=1) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    )
    return Parity(len(reference), float(cosine.min()), float(np.abs(reference - candidate).max()))
