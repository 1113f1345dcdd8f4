"""The one interface every encoder implements (see the Encoder contract in docs/architecture.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from PIL import Image

from models.preprocess import ImagePreprocess


class ModelUnavailableError(RuntimeError):
    """The weights a spec names are not on this machine and cannot be fetched; the message says what to do."""


class Encoder(ABC):
    """Maps images and texts into one space; every output row is L2-normalised float32."""

    spec: str
    dim: int
    preprocess: ImagePreprocess

    @abstractmethod
    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Embed preprocessed images, shape (n, 3, size, size) → (n, dim)."""

    @abstractmethod
    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Embed texts → (n, dim)."""

    def encode_images(self, images: list[Image.Image], batch_size: int = 32) -> np.ndarray:
        return encode_images_in_batches(self, images, batch_size)


def encode_images_in_batches(encoder, images: list[Image.Image], batch_size: int = 32) -> np.ndarray:
    """PIL images → embeddings through any encoder with ``preprocess``, ``encode_pixels`` and ``dim``."""
    parts = [
        encoder.encode_pixels(encoder.preprocess.batch(images[start : start + batch_size]))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, encoder.dim), np.float32)


def l2_normalise(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return array / np.maximum(norms, 1e-12)
