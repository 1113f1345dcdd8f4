"""ONNX Runtime encoders read from a bundle: the query path (no torch) and fast batch ingestion."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from models.bundle import BundleManifest
from models.encoders.base import encode_images_in_batches, l2_normalise
from models.preprocess import ImagePreprocess
from models.tokenizer import TextTokenizer


def make_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxTextEncoder:
    """Texts → L2-normalised embeddings with the bundle's tokenizer and text graph; ``queries``: the bundle's
    int8 query graph where it has one (the server's text queries), else the full-precision graph."""

    def __init__(self, folder: Path | str, threads: int | None = None, queries: bool = False) -> None:
        folder = Path(folder)
        self.manifest = BundleManifest.load(folder)
        spec = self.manifest.text
        self.tokenizer = TextTokenizer(folder / spec.tokenizer, spec.max_length, spec.pad_id, spec.pad_to)
        self.file = spec.query_file if queries and spec.query_file else spec.file
        self.session = make_session(folder / self.file, threads)
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

    def encode_queries(self, queries: list[str], batch_size: int = 64) -> np.ndarray:
        """Search queries, worded by the bundle's query prompt first ("a photo of {}" for ConSE)."""
        prompt = self.manifest.text.query_prompt
        return self.encode_texts([prompt.format(query) for query in queries], batch_size)


@dataclass(frozen=True)
class ImageOutputs:
    embeddings: np.ndarray  # (n, dim), shared text/image space, L2-normalised
    features: np.ndarray  # (n, features_dim), image→image space, L2-normalised
    probabilities: np.ndarray  # (n, classes), over ``OnnxImageEncoder.class_ids``; (n, 0) for older bundles


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
        self.class_ids, self.class_names = self.manifest.classes(folder)
        self.spec = self.manifest.spec
        self.version = self.manifest.version

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Embeddings in the shared text/image space."""
        return self.run(pixels).embeddings

    def encode_pixels_and_features(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shared-space embeddings, image→image features), both L2-normalised."""
        outputs = self.run(pixels)
        return outputs.embeddings, outputs.features

    def run(self, pixels: np.ndarray) -> ImageOutputs:
        """Every output of the image graph for a batch of preprocessed pixels."""
        n = len(pixels)
        if n == 0:
            empty = np.zeros((0, len(self.class_ids)), np.float32)
            return ImageOutputs(
                np.zeros((0, self.dim), np.float32), np.zeros((0, self.features_dim), np.float32), empty
            )
        outputs = self.session.run(None, {"pixels": pixels.astype(np.float32, copy=False)})
        probabilities = outputs[2] if len(outputs) > 2 else np.zeros((n, 0), np.float32)
        return ImageOutputs(outputs[0], outputs[1], probabilities)

    def run_views(self, views: np.ndarray) -> ImageOutputs:
        """Outputs for a batch of preprocessed views, (n, view_count, 3, size, size): the shared embedding of
        each image is its centre view's plus the mean of its other views', re-normalised (one view: unchanged);
        the image→image features and class probabilities are the centre view's."""
        n, count = views.shape[:2]
        outputs = self.run(views.reshape(n * count, *views.shape[2:]))
        embeddings = outputs.embeddings.reshape(n, count, -1)
        centre_view = embeddings[:, 0]
        combined = centre_view if count == 1 else l2_normalise(centre_view + embeddings[:, 1:].mean(axis=1))
        centre = slice(0, n * count, count)
        return ImageOutputs(combined, outputs.features[centre], outputs.probabilities[centre])

    def encode_images(self, images: list[Image.Image], batch_size: int = 32) -> np.ndarray:
        return encode_images_in_batches(self, images, batch_size)
