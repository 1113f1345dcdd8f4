"""The tokenizer as one JSON file for the browser: ids to byte-level BPE strings, and Whisper's special ids.

Decoding only (the browser never encodes text), so the vocabulary and GPT-2's byte table are enough; no BPE
merges and no tokenizer library in the page.
"""

from __future__ import annotations

import json
from pathlib import Path


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte <-> printable character table used by Whisper's byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def tokenizer_data(src: Path) -> dict:
    """id -> token string (byte-level BPE), the char -> byte table and Whisper's special token ids."""
    tokens = (src / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    index = {t: i for i, t in enumerate(tokens)}
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))

    def special(name: str) -> int:
        return index[f"<|{name}|>"]

    specials = {
        "eot": special("endoftext"),
        "sot": special("startoftranscript"),
        "translate": special("translate"),
        "transcribe": special("transcribe"),
        "sot_lm": special("startoflm"),
        "sot_prev": special("startofprev"),
        "no_speech": special("nocaptions") if "<|nocaptions|>" in index else special("nospeech"),
        "no_timestamps": special("notimestamps"),
        "timestamp_begin": special("0.00"),
    }
    return {
        "model": "whisper-tiny.en",
        "vocab_size": len(tokens),
        "special": specials,
        # tiny.en is English-only: no language or task token in the prompt.
        "prompt": [specials["sot"], specials["no_timestamps"]],
        "suppress": sorted(set(config.get("suppress_ids", []))),
        "suppress_at_begin": sorted(set(config.get("suppress_ids_begin", []))),
        "byte_decoder": {c: b for b, c in sorted(_bytes_to_unicode().items())},
        "tokens": tokens,
    }
