"""All server configuration, read from the environment (prefix ``GLIMPSE_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Server settings. Relative paths are resolved against ``project_root``."""

    model_config = SettingsConfigDict(env_prefix="GLIMPSE_", env_file=".env", extra="ignore")

    project_root: Path = Field(default=PROJECT_ROOT, description="Root that relative paths are resolved against.")
    images_table: Path = Field(
        default=Path("data/03_primary/images.parquet"), description="The pipeline's images table."
    )
    collection_root: Path = Field(
        default=Path("data/01_raw/demo"), description="Folder the pipeline ingested; originals are served from it."
    )
    templates_dir: Path = Field(default=Path("client/templates"), description="Jinja2 templates of the pages.")
    static_dir: Path = Field(default=Path("client/static"), description="CSS, JS and browser assets.")

    def path(self, value: Path) -> Path:
        """``value`` made absolute against the project root."""
        return value if value.is_absolute() else self.project_root / value


@lru_cache
def get_settings() -> Settings:
    return Settings()
