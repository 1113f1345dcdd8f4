"""Shared body of the torch encoders: a text tower and an image tower, both ``nn.Module``s.

``text_model(input_ids, attention_mask)`` returns normalised embeddings; ``image_model(pixels)`` returns
(normalised shared-space embeddings, normalised image→image features). The same modules are exported to
ONNX, so the torch and ONNX paths cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.bundle import TextSpec
from models.encoders.base import Encoder
from models.tokenizer import TextTokenizer


class TorchTowersEncoder(Encoder):
    text_model: nn.Module
    image_model: nn.Module
    tokenizer: TextTokenizer
    text_spec: TextSpec

    @torch.inference_mode()
    def encode_texts(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), batch_size):
            ids, mask = self.tokenizer(texts[start : start + batch_size])
            parts.append(self.text_model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy())
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, self.dim), np.float32)

    @torch.inference_mode()
    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self.image_model(torch.from_numpy(pixels))[0].numpy().astype(np.float32)

    @torch.inference_mode()
    def image_features(self, pixels: np.ndarray) -> np.ndarray:
        """The image→image space (normalised)."""
        return self.image_model(torch.from_numpy(pixels))[1].numpy().astype(np.float32)

    def text_export(self) -> tuple[nn.Module, TextSpec, Path]:
        return self.text_model, self.text_spec, self.tokenizer.tokenizer_file

    def image_export(self) -> nn.Module:
        return self.image_model
