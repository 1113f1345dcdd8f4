"""Can the Hugging Face model hub be reached right now?

Libraries that download from the hub (open_clip, transformers) retry for tens of seconds before giving up
when there is no network. Asking first — offline settings, then one TCP connection with a short timeout —
lets callers fail within about a second with a message that says what to do instead.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 1.0
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable() -> bool:
    """One TCP connection to the hub endpoint (read at call time, so tests can point it elsewhere)."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def hub_unreachable_reason() -> str | None:
    """Why a download from the hub cannot work now, or None when the hub answered.

    Checks the offline variables in the environment, then huggingface_hub's own offline flag (read once,
    when huggingface_hub is imported, so it can differ from the environment), then probes the endpoint.
    """
    for name in OFFLINE_VARIABLES:
        if _truthy(name):
            return f"{name} is set"
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "huggingface_hub was imported with HF_HUB_OFFLINE set"
    if not _hub_reachable():
        return f"the model hub did not answer within {PROBE_TIMEOUT_S:g} s"
    return None
