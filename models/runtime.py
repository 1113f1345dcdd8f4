"""ONNX Runtime encoders read from a bundle: the query path (no torch) and fast batch ingestion."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from models.bundle import BundleManifest
from models.encoders.base import encode_images_in_batches
from models.preprocess import ImagePreprocess
from models.tokenizer import TextTokenizer


def make_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxTextEncoder:
    """Texts → L2-normalised embeddings with the bundle's tokenizer and text graph."""

    def __init__(self, folder: Path | str, threads: int | None = None) -> None:
        folder = Path(folder)
        self.manifest = BundleManifest.load(folder)
        spec = self.manifest.text
        self.tokenizer = TextTokenizer(folder / spec.tokenizer, spec.max_length, spec.pad_id, spec.pad_to)
        self.session = make_session(folder / spec.file, threads)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = self.manifest.dim
        self.spec = self.manifest.spec
        self.version = self.manifest.version

    def encode_texts(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), batch_size):
            ids, mask = self.tokenizer(texts[start : start + batch_size])
            feeds = {"input_ids": ids, "attention_mask": mask}
            parts.append(self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0])
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, self.dim), np.float32)


class OnnxImageEncoder:
    """Preprocessed pixels or PIL images → L2-normalised embeddings with the bundle's image graph."""

    def __init__(self, folder: Path | str, threads: int | None = None) -> None:
        folder = Path(folder)
        self.manifest = BundleManifest.load(folder)
        if self.manifest.image is None:
            raise ValueError(f"the bundle at {folder} has no image encoder")
        self.preprocess = ImagePreprocess.from_dict(self.manifest.image.preprocess)
        self.session = make_session(folder / self.manifest.image.file, threads)
        self.dim = self.manifest.dim
        self.features_dim = int(self.session.get_outputs()[1].shape[1])
        self.spec = self.manifest.spec
        self.version = self.manifest.version

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Embeddings in the shared text/image space."""
        return self.encode_pixels_and_features(pixels)[0]

    def encode_pixels_and_features(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shared-space embeddings, image→image features), both L2-normalised."""
        if len(pixels) == 0:
            return np.zeros((0, self.dim), np.float32), np.zeros((0, self.features_dim), np.float32)
        embedding, features = self.session.run(None, {"pixels": pixels.astype(np.float32, copy=False)})
        return embedding, features

    def encode_images(self, images: list[Image.Image], batch_size: int = 32) -> np.ndarray:
        return encode_images_in_batches(self, images, batch_size)
