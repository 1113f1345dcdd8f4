"""The offline default model: ConSE (Norouzi et al., ICLR 2014) over packaged weights.

An image maps to the probability-weighted average of the text embeddings of its top-T ImageNet classes;
a text maps to its MiniLM embedding. Both land in MiniLM's 384-d space, so text→image search works
zero-shot with nothing but an ImageNet classifier and a sentence encoder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from models.bundle import TextSpec
from models.encoders.base import l2_normalise
from models.encoders.efficientnet_lite import load_efficientnet_lite
from models.encoders.minilm import MeanPooledText, load_minilm
from models.encoders.torch_towers import TorchTowersEncoder, imagenet_class_names
from models.tokenizer import TextTokenizer

PROMPTS = ("a photo of a {}.",)
# Search queries are worded like the class prompts an image is a mixture of (models/bundle.py TextSpec).
QUERY_PROMPT = "a photo of {}"
# The shared embedding of an image adds four corner views of 80 % of its short side (models/preprocess.py).
CORNER_CROP = 0.8


@dataclass(frozen=True)
class ConSEConfig:
    """Defaults chosen with bench/conse_sweep.py on coco-mini (see docs/models.md, "Quality"): Lite1 beat
    Lite0 by ~3 points of R@10 and Lite2 was no better but slower; T between 10 and 50 is flat, T=1 and
    T=1000 are worse; extra prompt templates changed nothing beyond noise."""

    variant: int = 1
    top_t: int = 20
    prompts: tuple[str, ...] = PROMPTS
    text: str = "minilm"  # or "mpnet" (models/encoders/mpnet.py), named last in the spec

    @property
    def spec(self) -> str:
        return f"conse:lite{self.variant}:T{self.top_t}" + (f":{self.text}" if self.text != "minilm" else "")

    @classmethod
    def parse(cls, spec: str) -> ConSEConfig:
        match = re.fullmatch(r"conse:lite([012]):T(\d+)(?::(minilm|mpnet))?", spec.strip())
        if not match:
            raise ValueError(f"not a ConSE spec: {spec!r} (expected e.g. 'conse:lite0:T10' or 'conse:lite1:T20:mpnet')")
        return cls(variant=int(match.group(1)), top_t=int(match.group(2)), text=match.group(3) or "minilm")


def load_text_tower(name: str) -> tuple[MeanPooledText, TextTokenizer]:
    """The sentence encoder that makes the ConSE space: MiniLM (packaged, the default) or mpnet (optional)."""
    if name == "mpnet":
        from models.encoders.mpnet import load_mpnet

        return load_mpnet()
    return load_minilm()


class ConSEHead(nn.Module):
    """Class logits → normalised probability-weighted mean of the top-T class embeddings."""

    def __init__(self, class_embeddings: torch.Tensor, top_t: int) -> None:
        super().__init__()
        self.register_buffer("class_embeddings", class_embeddings.float())
        self.top_t = top_t

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        probabilities = logits.softmax(dim=-1)
        weights, indices = probabilities.topk(self.top_t, dim=-1)
        mixed = (weights.unsqueeze(-1) * self.class_embeddings[indices]).sum(dim=1)
        return nn.functional.normalize(mixed, dim=-1)


class ConSEImageTower(nn.Module):
    """Pixels → (ConSE embedding, normalised pooled features, class probabilities), one module so it exports
    to one ONNX graph.

    The pooled features serve image→image search: on Tux Paint stamp folders they beat the ConSE space
    (P@5 0.375 vs 0.286 with Lite0; bench/conse_sweep.py), because they keep what the 1000 classes drop.
    """

    def __init__(self, classifier: nn.Module, head: ConSEHead) -> None:
        super().__init__()
        self.classifier = classifier
        self.head = head

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pooled = self.classifier.forward_head(self.classifier.forward_features(pixels), pre_logits=True)
        logits = self.classifier.get_classifier()(pooled)
        return self.head(logits), nn.functional.normalize(pooled, dim=-1), logits.softmax(dim=-1)


class ConSEEncoder(TorchTowersEncoder):
    """Torch implementation, used for export, evaluation and as the reference for the ONNX graphs."""

    def __init__(self, config: ConSEConfig | None = None) -> None:
        self.config = config or ConSEConfig()
        self.spec = self.config.spec
        torch.set_grad_enabled(False)
        self.text_model, self.tokenizer = load_text_tower(self.config.text)
        self.text_spec = TextSpec(
            max_length=self.tokenizer.max_length, pad_id=self.tokenizer.pad_id, query_prompt=QUERY_PROMPT
        )
        classifier, preprocess = load_efficientnet_lite(self.config.variant)
        self.preprocess = replace(preprocess, corner_crop=CORNER_CROP)
        self.class_names = imagenet_class_names()
        self.class_embeddings = self._embed_classes()
        self.image_model = ConSEImageTower(
            classifier, ConSEHead(torch.from_numpy(self.class_embeddings), self.config.top_t)
        ).eval()
        self.dim = int(self.class_embeddings.shape[1])

    def _embed_classes(self) -> np.ndarray:
        per_prompt = [self.encode_texts([p.format(name) for name in self.class_names]) for p in self.config.prompts]
        return l2_normalise(np.mean(per_prompt, axis=0))
