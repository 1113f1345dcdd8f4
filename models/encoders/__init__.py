"""Encoders by spec string: ``conse:lite1:T20`` (the offline default), ``conse:lite1:T20:mpnet`` (a larger text
space, optional) or ``open_clip:ARCH:TAG_OR_FILE``."""

from __future__ import annotations

from models.encoders.base import Encoder, ModelUnavailableError, l2_normalise

DEFAULT_SPEC = "conse:lite1:T20"

__all__ = ["DEFAULT_SPEC", "Encoder", "ModelUnavailableError", "l2_normalise", "load_encoder"]


def load_encoder(spec: str = DEFAULT_SPEC) -> Encoder:
    """Build the torch encoder a spec names (heavy imports happen only here)."""
    if spec.startswith("conse:"):
        from models.encoders.conse import ConSEConfig, ConSEEncoder

        return ConSEEncoder(ConSEConfig.parse(spec))
    if spec.startswith("open_clip:"):
        from models.encoders.open_clip_encoder import OpenClipEncoder

        return OpenClipEncoder(spec)
    raise ValueError(
        f"unknown encoder spec {spec!r}: use 'conse:lite{{0,1,2}}:T<n>[:mpnet]' or 'open_clip:ARCH:TAG_OR_FILE'"
    )
