"""What the server answers: one typed model per answer, built by the services, declared by the API routes
(their OpenAPI schema) and rendered by the pages, so the JSON and the HTML can never describe different things.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Ready(BaseModel):
    ready: bool
    problems: list[str] = Field(description="Why the service is not ready; empty when it is")
    warnings: list[str] = Field(default=[], description="Problems that do not stop queries (absent when none)")


class Description(BaseModel):
    alt: str = Field(description="Alt text, at most 125 characters")
    long: str = Field(description="A longer description for screen readers")


class Result(BaseModel):
    rank: int = Field(ge=1)
    image_id: str
    score: float
    weak: bool = Field(description="Below the version's calibrated threshold: probably not what was asked for")
    image_url: str
    thumbnail_url: str
    metadata: dict[str, Any]
    description: Description
    why: list[str] = Field(
        default=[], description='Text search: why it matched, briefly ("2 people", \'text: "STOP"\'); may be empty'
    )


class ModelInfo(BaseModel):
    version: str
    spec: str
    bundle_version: str
    index_version: str
    arm: str | None = Field(default=None, description='"control" or "candidate" while an A/B test runs, else null')


class Respelled(BaseModel):
    typed: str = Field(description="A word as typed")
    searched: str = Field(description="The word searched instead")


class SearchAnswer(BaseModel):
    query: str | None = Field(default=None, description="Text search: the query searched (cleaned, and respelled)")
    typed: str | None = Field(
        default=None,
        description="Text search: the query as typed when a word of it was respelled (`spell=false` searches it as "
        "typed); null when nothing was changed",
    )
    respelled: list[Respelled] = Field(default=[], description="Text search: the words respelled, in order")
    query_image_id: str | None = Field(default=None, description="Image search: the indexed image searched with")
    k: int
    model: ModelInfo
    weak_threshold: float | None
    no_good_match: bool
    results: list[Result]
    timings_ms: dict[str, float]


class ImageDescription(BaseModel):
    image_id: str
    description: dict[str, Any] = Field(description="`alt`, `long` and `evidence` (an object)")
    metadata: dict[str, Any]


class VoteRecorded(BaseModel):
    id: int
    recorded: bool
    duplicate: bool = Field(default=False, description="Repeats this session's latest vote: nothing stored")


class VoteSummary(BaseModel):
    total: int
    up: int
    down: int


class VersionVotes(BaseModel):
    """One model version's votes and searches (no queries, no sessions)."""

    model_version: str
    votes: int
    up: int
    down: int
    sessions: int = Field(description="Distinct sessions that voted")
    first_vote_at: str | None
    last_vote_at: str | None
    searches: int = Field(description="Searches this version answered")
    up_share: float | None = Field(description="Up votes / votes; null without votes")
    votes_per_search: float | None
    up_per_search: float | None
    down_per_search: float | None


class ABState(BaseModel):
    candidate_share: float
    candidate_alias: str
    control: str | None = Field(description="The version the default alias serves; null when unknown")
    candidate: str | None
    running: bool


class FeedbackStats(BaseModel):
    versions: list[VersionVotes]
    total: VoteSummary
    ab: ABState


class RegisteredVersion(BaseModel):
    version: str
    spec: str
    bundle_version: str
    aliases: list[str]
    metrics: dict[str, float] = Field(description="Recall@k and the weak-match threshold it was promoted with")
    index: dict[str, str] = Field(description="The Faiss index's tags (factory, count, …)")


class LoadedVersion(BaseModel):
    version: str
    spec: str
    bundle_version: str
    adapted: bool
    size_mb: float
    size_bytes: int = Field(description="Bytes of the version's models and indexes in memory (size_mb unrounded)")
    idle_seconds: float
    images: int
    index: str


class PoolStatus(BaseModel):
    loaded: list[LoadedVersion]
    max_models: int
    memory_budget_mb: int
    idle_ttl_seconds: float
    evictions: int


class ModelsAnswer(BaseModel):
    default: str
    versions: list[RegisteredVersion]
    pool: PoolStatus
