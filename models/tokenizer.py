"""Text tokenisation with the `tokenizers` library (Rust, no torch), shared by every text path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


class TextTokenizer:
    """Turns texts into (input_ids, attention_mask) int64 arrays, padded to the longest text in the batch.

    ``pad_to`` fixes the sequence length instead (models whose graph needs it).
    """

    def __init__(self, tokenizer_file: Path | str, max_length: int, pad_id: int = 0, pad_to: int | None = None) -> None:
        self.tokenizer_file = Path(tokenizer_file)
        self.max_length = max_length
        self.pad_id = pad_id
        self.pad_to = pad_to
        self._tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        length = self.pad_to or max((len(e.ids) for e in encodings), default=1)
        ids = np.full((len(encodings), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
        return ids, mask
