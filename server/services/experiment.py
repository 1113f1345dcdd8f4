"""A/B routing: which model version answers a search that asks for the default model.

A share of anonymous sessions (``GLIMPSE_AB_CANDIDATE_SHARE``) gets the version the ``candidate`` alias points
to; everyone else gets ``production``. The split is a hash of the session cookie salted with the candidate's
version number, so a session keeps its arm for the life of one candidate and is drawn again for the next.
Only requests for the default model take part: asking for a version number or another alias is obeyed as is.
There is no experiment while the candidate is missing or is the production version itself, and a candidate that
fails to load falls back to production (logged) instead of failing the search.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from server.services.model_pool import LoadedModel, ModelLoadError, ModelPool, UnknownModelError

logger = logging.getLogger(__name__)

CONTROL = "control"
CANDIDATE = "candidate"


def bucket(session: str, salt: str) -> float:
    """A number in [0, 1) fixed by (salt, session) and uniform over sessions."""
    digest = hashlib.sha256(f"{salt}\x00{session}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Routed:
    model: LoadedModel
    arm: str | None  # CONTROL or CANDIDATE; None when the request named its model or no experiment runs


@dataclass(frozen=True)
class Arms:
    """The versions an experiment compares right now (``candidate`` None: no experiment)."""

    control: str
    candidate: str | None


class Experiment:
    def __init__(self, *, default_model: str, candidate_alias: str, share: float) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"the candidate share must be between 0 and 1, not {share}")
        self.default_model = default_model
        self.candidate_alias = candidate_alias
        self.share = share

    def asks_for_default(self, requested: str | None) -> bool:
        name = (requested or "").strip()
        return not name or name == self.default_model

    def arms(self, pool: ModelPool) -> Arms:
        """Production's version and, when an experiment runs, the candidate's (raises UnknownModelError when
        the default model itself is missing)."""
        control = pool.resolve(self.default_model)
        if self.share <= 0.0:
            return Arms(control, None)
        try:
            candidate = pool.resolve(self.candidate_alias)
        except UnknownModelError:
            return Arms(control, None)
        return Arms(control, candidate if candidate != control else None)

    def route(self, pool: ModelPool, session: str, requested: str | None = None) -> Routed:
        """The loaded model for this request; raises what ``pool.get`` raises for a model named explicitly."""
        if not self.asks_for_default(requested):
            return Routed(pool.get((requested or "").strip()), None)
        arms = self.arms(pool)
        if arms.candidate is None:
            return Routed(pool.get(arms.control), None)
        if bucket(session, arms.candidate) < self.share:
            try:
                return Routed(pool.get(arms.candidate), CANDIDATE)
            except ModelLoadError as exc:
                logger.warning("candidate version %s cannot answer, serving production: %s", arms.candidate, exc)
                return Routed(pool.get(arms.control), None)
        return Routed(pool.get(arms.control), CONTROL)
