"""Real CLIP models through open_clip: any architecture with a pretrained tag or a local weights file.

Spec: ``open_clip:ARCH:TAG`` (``open_clip:ViT-B-32:laion2b_s34b_b79k``) or ``open_clip:ARCH:/path/weights.bin``.
A tag whose weights are not cached locally needs the model hub; with no network this fails within about a
second with a message saying what to do, instead of open_clip's ~30-second retry loop.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from models.bundle import TextSpec
from models.encoders.base import ModelUnavailableError
from models.encoders.torch_towers import TorchTowersEncoder, imagenet_class_names
from models.hub import hub_unreachable_reason
from models.preprocess import ImagePreprocess
from models.tokenizer import TextTokenizer


def parse_spec(spec: str) -> tuple[str, str]:
    parts = spec.split(":", 2)
    if len(parts) != 3 or parts[0] != "open_clip" or not parts[1] or not parts[2]:
        raise ValueError(f"not an open_clip spec: {spec!r} (expected 'open_clip:ARCH:TAG_OR_FILE')")
    return parts[1], parts[2]


def _cached_weights(cfg: dict) -> str | None:
    """The local path of a tag's weights if a previous download left them in a cache."""
    if cfg.get("file") and os.path.isfile(cfg["file"]):
        return cfg["file"]
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo, filename = (
            os.path.split(cfg["hf_hub"].rstrip("/"))
            if not cfg["hf_hub"].endswith("/")
            else (cfg["hf_hub"].rstrip("/"), "")
        )
        for name in ([filename] if filename else []) + ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str):
                return found
    if cfg.get("url"):
        local = Path.home() / ".cache" / "clip" / os.path.basename(urlparse(cfg["url"]).path)
        if local.is_file():
            return str(local)
    return None


def resolve_weights(arch: str, tag_or_file: str) -> str:
    """A local weights path for ``arch``, or a tag open_clip may download; raises fast when neither works."""
    import open_clip

    is_file = os.sep in tag_or_file or tag_or_file.endswith((".bin", ".pt", ".pth", ".safetensors"))
    if arch not in open_clip.list_models() and is_file:
        # A custom architecture travels with its weights: ARCH.json beside the file (every process, e.g. each
        # Dask worker, registers it for itself).
        config = Path(tag_or_file).with_name(f"{arch}.json")
        if config.is_file():
            open_clip.add_model_config(config)
    if arch not in open_clip.list_models():
        raise ValueError(
            f"unknown open_clip architecture {arch!r}; see open_clip.list_models(), or put {arch}.json (its model "
            "config) beside the weights file"
        )
    if is_file or tag_or_file.endswith((".bin", ".pt", ".pth", ".safetensors")):
        if not os.path.isfile(tag_or_file):
            raise ModelUnavailableError(f"weights file {tag_or_file!r} does not exist")
        return tag_or_file
    cfg = open_clip.get_pretrained_cfg(arch, tag_or_file)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise ValueError(f"{arch} has no pretrained tag {tag_or_file!r}; known tags: {', '.join(tags) or 'none'}")
    cached = _cached_weights(cfg)
    if cached:
        return cached
    reason = hub_unreachable_reason()
    if reason is None:
        return tag_or_file
    raise ModelUnavailableError(
        f"the weights for open_clip:{arch}:{tag_or_file} are not on this machine and the model hub cannot be "
        f"reached ({reason}). Download them where there is network (open_clip.create_model('{arch}', pretrained="
        f"'{tag_or_file}') fills the cache) and copy the file here, then use the spec "
        f"'open_clip:{arch}:/path/to/weights', or use the offline default model."
    )


class _ClipText(nn.Module):
    """open_clip's CLIP text tower with the sequence axis free: positions and causal mask are sliced to the
    input length. With a causal mask the EOT state does not see later padding, so shorter inputs give the
    same embedding as the 77-token ones, faster."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        from open_clip.transformer import text_global_pool

        m = self.model
        if hasattr(m, "text"):  # CustomTextCLIP: its text tower slices by itself
            return nn.functional.normalize(m.text(input_ids), dim=-1)
        length = input_ids.shape[1]
        x = m.token_embedding(input_ids) + m.positional_embedding[:length]
        mask = m.attn_mask[:length, :length] if m.attn_mask is not None else None
        x = m.ln_final(m.transformer(x, attn_mask=mask))
        x = text_global_pool(x, input_ids, m.text_pool_type, eos_token_id=getattr(m, "text_eos_id", None))
        x = m.text_projection(x) if isinstance(m.text_projection, nn.Linear) else x @ m.text_projection
        return nn.functional.normalize(x, dim=-1)


class _ClipImage(nn.Module):
    """Pixels → (embedding, features, class probabilities); for CLIP the embedding is also the best image→image
    space, and the probabilities are zero-shot over the ImageNet classes (CLIP's own logit scale)."""

    def __init__(self, model: nn.Module, class_embeddings: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("class_embeddings", class_embeddings.float())

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        embedding = nn.functional.normalize(self.model.encode_image(pixels), dim=-1)
        logits = self.model.logit_scale.exp() * embedding @ self.class_embeddings.T
        return embedding, embedding, logits.softmax(dim=-1)


def tokenizer_json(arch: str, folder: Path) -> Path:
    """Write a `tokenizers` file equivalent to open_clip's tokenizer for ``arch`` (no torch needed to use it)."""
    import open_clip
    from open_clip.tokenizer import HFTokenizer, SimpleTokenizer

    tokenizer = open_clip.get_tokenizer(arch)
    target = folder / "tokenizer.json"
    if isinstance(tokenizer, HFTokenizer):
        tokenizer.tokenizer.backend_tokenizer.save(str(target))
        return target
    if not isinstance(tokenizer, SimpleTokenizer):
        raise NotImplementedError(f"cannot convert {type(tokenizer).__name__} to a tokenizers file")
    _simple_tokenizer_to_json(tokenizer, target)
    return target


def _simple_tokenizer_to_json(tokenizer, target: Path) -> None:
    """Rebuild open_clip's byte-level BPE (lower-cased, ``</w>`` word ends, SOT/EOT around) in `tokenizers`.

    open_clip also runs ftfy and HTML unescaping; the common entities are unescaped here, ftfy's mojibake
    repair is not reproduced (it only matters for already-broken text).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    merges = [pair for pair, _ in sorted(tokenizer.bpe_ranks.items(), key=lambda item: item[1])]
    bpe = models.BPE(vocab=dict(tokenizer.encoder), merges=merges, end_of_word_suffix="</w>", fuse_unk=False)
    built = Tokenizer(bpe)
    entities = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'"}
    built.normalizer = normalizers.Sequence(
        [normalizers.NFC()]
        + [normalizers.Replace(entity, text) for entity, text in entities.items()]
        + [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(), normalizers.Lowercase()]
    )
    built.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""), behavior="removed", invert=True
            ),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    built.decoder = decoders.ByteLevel()
    sot, eot = tokenizer.all_special_ids[:2]
    built.post_processor = processors.TemplateProcessing(
        single="<start_of_text> $A <end_of_text>", special_tokens=[("<start_of_text>", sot), ("<end_of_text>", eot)]
    )
    built.save(str(target))


class OpenClipEncoder(TorchTowersEncoder):
    def __init__(self, spec: str, cache_dir: Path | None = None) -> None:
        import open_clip

        arch, tag_or_file = parse_spec(spec)
        weights = resolve_weights(arch, tag_or_file)
        torch.set_grad_enabled(False)
        self.model = open_clip.create_model(arch, pretrained=weights, device="cpu").eval()
        self.spec = spec
        self.arch = arch
        cfg = self.model.visual.preprocess_cfg
        size = cfg["size"] if isinstance(cfg["size"], int) else int(cfg["size"][-1])
        self.preprocess = ImagePreprocess(
            size=size, crop_pct=1.0, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), interpolation=cfg["interpolation"]
        )
        self._folder = Path(tempfile.mkdtemp(prefix="glimpse-tokenizer-", dir=cache_dir))
        self.context_length = int(self.model.context_length)
        self.tokenizer = TextTokenizer(tokenizer_json(arch, self._folder), max_length=self.context_length, pad_id=0)
        self.text_spec = TextSpec(max_length=self.context_length, pad_id=0)
        self.text_model = _ClipText(self.model).eval()
        self.class_names = imagenet_class_names()
        class_embeddings = self.encode_texts([f"a photo of a {name}." for name in self.class_names])
        self.image_model = _ClipImage(self.model, torch.from_numpy(class_embeddings)).eval()
        self.dim = int(class_embeddings.shape[1])
