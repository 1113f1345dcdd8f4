"""Image captions from a Hugging Face image-to-text model (BLIP, GIT, …), for the describer.

The describer's offline default says what an image contains from class labels and colours; a captioning model
writes a sentence instead ("a dog running on a beach"). No captioning weights install from a package on these
machines, so the model is pluggable: ``describe.captioner: hf:ID_OR_FOLDER`` in conf/base/parameters.yml names
a folder written by ``save_pretrained`` (copied here from a machine with network) or a hub model id that is
already in the local cache. Anything that would need the hub while it cannot be reached fails within about a
second with a message saying what to do, instead of transformers' minutes of retries.

torch and transformers are imported inside the functions that need them: importing this module stays cheap
for the code paths (and tests) that never caption.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from PIL import Image

from models.preprocess import to_rgb

SPEC_PREFIX = "hf:"
NO_CAPTIONER = ("", "none")
_WHITESPACE = re.compile(r"\s+")


class CaptionerUnavailableError(RuntimeError):
    """The captioning model cannot be loaded here; the message says how to make it available."""


def _advice(source: str, problem: str) -> str:
    return (
        f"captioning model {source!r} is not available: {problem}. Download it where there is network "
        f"(AutoProcessor.from_pretrained(ID).save_pretrained(FOLDER) and "
        f"AutoModelForImageTextToText.from_pretrained(ID).save_pretrained(FOLDER)), copy the folder to this "
        f"machine and set 'describe.captioner: hf:/path/to/folder' in conf/base/parameters.yml, or set it to "
        f"'none' to describe images without captions."
    )


def _looks_like_path(source: str) -> bool:
    """A hub id is ``name`` or ``owner/name``; anything else (absolute, ./, ~, deeper nesting) is a folder."""
    return source.startswith(("/", ".", "~")) or "\\" in source or source.count("/") > 1


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """transformers 5 draws a "Loading weights" progress bar on every load; it is noise for a local folder."""
    from transformers.utils import logging as hf_logging

    if not hf_logging.is_progress_bar_enabled():
        yield
        return
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()


def clean_caption(text: str, prompt: str = "") -> str:
    """One line of plain text: whitespace collapsed, and a prompt the model repeated at the start removed
    (decoder-only models such as GIT return the prompt tokens in front of the caption)."""
    text = _WHITESPACE.sub(" ", text).strip()
    prompt = _WHITESPACE.sub(" ", prompt).strip()
    if prompt and text.lower().startswith(prompt.lower()):
        text = text[len(prompt) :].strip()
    return text


class TransformersCaptioner:
    """A transformers image-to-text model with its processor, run on CPU with greedy decoding.

    Greedy decoding (no sampling, one beam) makes captions deterministic, so re-running the pipeline gives
    the same descriptions and cached features stay valid.
    """

    def __init__(
        self, source: str, max_new_tokens: int = 30, batch_size: int = 8, *, prompt: str | None = None
    ) -> None:
        """``source`` is a folder written by ``save_pretrained`` or a hub model id
        (``Salesforce/blip-image-captioning-base``, ``microsoft/git-base-coco``). ``prompt`` optionally starts
        every caption (conditional captioning, e.g. "a photograph of"); it is removed from the returned text."""
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be at least 1")
        self.source = source
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.prompt = (prompt or "").strip()
        folder = Path(source).expanduser()
        if folder.is_dir():
            self.name = folder.resolve().name
            self.processor, self.model = self._load(str(folder), local_files_only=True)
        elif _looks_like_path(source):
            raise CaptionerUnavailableError(_advice(source, f"the folder {str(folder)!r} does not exist"))
        else:
            self.name = source
            self.processor, self.model = self._load_from_hub(source)
        self._prompt_echo = self._tokenised_prompt_text()

    def _load_from_hub(self, model_id: str) -> tuple[Any, Any]:
        """The hub cache first (works offline); then a download, but only when the hub can be reached."""
        from models.hub import hub_unreachable_reason

        try:
            return self._load(model_id, local_files_only=True)
        except CaptionerUnavailableError:
            pass
        reason = hub_unreachable_reason()
        if reason is not None:
            raise CaptionerUnavailableError(_advice(model_id, f"it is not in the local cache and {reason}"))
        return self._load(model_id, local_files_only=False)

    def _load(self, where: str, *, local_files_only: bool) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        try:
            with _quiet_progress() if local_files_only else nullcontext():
                processor = AutoProcessor.from_pretrained(where, local_files_only=local_files_only)
                model = AutoModelForImageTextToText.from_pretrained(
                    where, local_files_only=local_files_only, dtype=torch.float32
                )
        except (OSError, ValueError, KeyError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CaptionerUnavailableError(_advice(where, f"loading failed ({first_line})")) from exc
        return processor, model.to("cpu").eval()

    @property
    def _tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)

    def _tokenised_prompt_text(self) -> str:
        """The prompt as the tokenizer gives it back (lower-cased, re-spaced): what an echo looks like."""
        if not self.prompt:
            return ""
        ids = self._tokenizer(self.prompt, add_special_tokens=False)["input_ids"]
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def _prompt_ids(self, count: int) -> Any:
        """Prompt token ids for ``count`` images, laid out the way the model's ``generate`` expects them.

        GIT continues from ``[CLS] prompt``; BLIP's ``generate`` swaps the first token for its decoder start
        token and drops the last one, so it gets the tokenizer's full ``[CLS] prompt [SEP]``."""
        import torch

        tokenizer = self._tokenizer
        ids = tokenizer(self.prompt, add_special_tokens=False)["input_ids"]
        start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        ids = ([start] if start is not None else []) + list(ids)
        if getattr(self.model.config, "model_type", "") == "blip":
            ids.append(tokenizer.sep_token_id)
        return torch.tensor([ids] * count, dtype=torch.long)

    def caption(self, images: list[Image.Image]) -> list[str]:
        """One caption per image, in order (possibly empty when the model stops at once)."""
        import torch

        captions: list[str] = []
        for start in range(0, len(images), self.batch_size):
            batch = [to_rgb(image) for image in images[start : start + self.batch_size]]
            inputs = self.processor(images=batch, return_tensors="pt")
            kwargs: dict[str, Any] = {"pixel_values": inputs["pixel_values"].to(self.model.dtype)}
            if self.prompt:
                kwargs["input_ids"] = self._prompt_ids(len(batch))
                kwargs["attention_mask"] = torch.ones_like(kwargs["input_ids"])
            with torch.inference_mode():
                output = self.model.generate(**kwargs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1)
            texts = self._tokenizer.batch_decode(output, skip_special_tokens=True)
            captions.extend(clean_caption(text, self._prompt_echo) for text in texts)
        return captions


def load_captioner(spec: str | None) -> TransformersCaptioner | None:
    """The captioner a ``describe.captioner`` setting names: None/""/"none" → no captioner (describe without
    captions), ``hf:ID_OR_FOLDER`` → a transformers model."""
    if spec is None or spec.strip().lower() in NO_CAPTIONER:
        return None
    spec = spec.strip()
    if spec.startswith(SPEC_PREFIX) and spec[len(SPEC_PREFIX) :].strip():
        return TransformersCaptioner(spec[len(SPEC_PREFIX) :].strip())
    raise ValueError(
        f"unknown captioner spec {spec!r}: use 'none' (no captions), 'hf:/path/to/folder' (a folder written by "
        f"save_pretrained) or 'hf:OWNER/NAME' (a hub model id, e.g. hf:Salesforce/blip-image-captioning-base)"
    )


__all__ = [
    "CaptionerUnavailableError",
    "TransformersCaptioner",
    "clean_caption",
    "load_captioner",
]
