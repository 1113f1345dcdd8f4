"""All server configuration, read from the environment (prefix ``GLIMPSE_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Server settings. Relative paths are resolved against ``project_root``."""

    model_config = SettingsConfigDict(env_prefix="GLIMPSE_", env_file=".env", extra="ignore")

    project_root: Path = Field(default=PROJECT_ROOT, description="Root that relative data paths resolve against.")
    images_table: Path = Field(
        default=Path("data/03_primary/images.parquet"), description="The pipeline's images table."
    )
    collection_root: Path = Field(
        default=Path("data/01_raw/demo"), description="Folder the pipeline ingested; originals are served from it."
    )
    registry_uri: str = Field(
        default="sqlite:///data/mlflow/mlflow.db",
        description="MLflow tracking/registry URI (sqlite paths may be relative).",
    )
    registry_artifacts: Path = Field(default=Path("data/mlflow/artifacts"), description="MLflow artifact folder.")
    model_name: str = Field(default="glimpse", description="Registered model whose versions are served.")
    default_model: str = Field(default="production", description="Alias (or version) answering when none is asked.")
    index_root: Path = Field(default=Path("data/05_model_input/indexes"), description="Faiss indexes per version.")
    feature_store: Path = Field(default=Path("data/07_feature_store"), description="Feast registry + online store.")
    pool_max_models: int = Field(default=2, ge=1, description="Model versions kept in memory at most.")
    pool_memory_budget_mb: int = Field(default=2048, ge=64, description="Memory the resident versions may use.")
    pool_idle_ttl_s: float = Field(default=900.0, gt=0, description="Unload a version idle this long.")
    alias_refresh_s: float = Field(default=2.0, ge=0, description="How often aliases are re-read from the registry.")
    onnx_threads: int = Field(default=2, ge=1, description="ONNX Runtime threads per session.")
    faiss_threads: int = Field(
        default=1, ge=1, description="Faiss threads per search (one query at a time: 1 is faster, bench/indexes.py)."
    )
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Largest accepted upload.")
    max_request_bytes: int = Field(
        default=12 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest request body of any kind (an upload plus its form); larger ones get 413 unread.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Time a client has to send a request's headers (uvicorn --http server.core.protocol:HTTP).",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Time a client has to send a whole request body; slower ones get 408."
    )
    max_query_string_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Longest query string (URL-encoded); longer ones get 414 unread."
    )
    max_upload_pixels: int = Field(default=50_000_000, ge=1, description="Largest accepted image area (bombs).")
    feedback_db: Path = Field(
        default=Path("data/feedback/feedback.db"), description="SQLite file of the votes (append-only)."
    )
    feedback_url: str = Field(
        default="",
        description="PostgreSQL database of the votes shared by server replicas (postgresql://user@host/db). "
        "Empty: the SQLite file feedback_db.",
    )
    online_store_url: str = Field(
        default="",
        description="Redis holding the Feast online store (redis://host:6379/1), written by the pipeline's publish "
        "(publish.online_url). Empty: online.db in feature_store.",
    )
    redis_url: str = Field(
        default="",
        description="Redis shared by server replicas (redis://host:6379/0): vote limits count there. Empty: a "
        "SQLite file beside the vote log (one machine).",
    )
    feedback_votes_per_minute: int = Field(default=60, ge=1, description="Votes one session may post per minute.")
    feedback_votes_per_minute_per_client: int = Field(
        default=600, ge=1, description="Votes one client address may post per minute (all its sessions)."
    )
    ab_candidate_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of sessions (0–1) whose searches for the default model are answered by the candidate.",
    )
    ab_candidate_alias: str = Field(default="candidate", description="Alias of the version tried on that share.")
    served_flush_s: float = Field(
        default=5.0, gt=0, description="How often the searches-served counts are written to the feedback database."
    )
    templates_dir: Path = Field(default=Path("client/templates"), description="Jinja2 templates of the pages.")
    static_dir: Path = Field(default=Path("client/static"), description="CSS, JS and browser assets.")
    vendor_dir: Path = Field(
        default=Path("client/node_modules"), description="npm packages for the browser (installed by make setup)."
    )

    @field_validator("redis_url", "online_store_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return _service_url(value, ("redis", "rediss", "unix"), "redis://host:6379/0")

    @field_validator("feedback_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        return _service_url(value, ("postgresql", "postgres"), "postgresql://user@host:5432/glimpse")

    def path(self, value: Path) -> Path:
        """``value`` made absolute against the project root."""
        return value if value.is_absolute() else self.project_root / value

    def asset(self, value: Path) -> Path:
        """Templates and static files ship with the code: relative paths resolve against the code's folder."""
        return value if value.is_absolute() else PROJECT_ROOT / value

    @property
    def resolved_registry_uri(self) -> str:
        """The registry URI with a relative SQLite path made absolute against the project root."""
        from models.registry import absolute_sqlite_uri

        return absolute_sqlite_uri(self.registry_uri, self.project_root)


def _service_url(value: str, schemes: tuple[str, ...], example: str) -> str:
    """Check a service URL at start, so a typo fails there with the setting's name, not on the first request."""
    value = value.strip()
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as error:
        raise ValueError(f"is not a URL ({error}); expected something like {example}") from None
    if parts.scheme not in schemes:
        raise ValueError(f"must start with {' or '.join(s + '://' for s in schemes)}, like {example}")
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
