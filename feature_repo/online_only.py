"""An offline store for processes that read only the online tables: the web server.

Feast validates the offline store's configuration when it opens a store, and its default (``file``) imports
dask, which the server image does not carry. Naming this class instead keeps the server's store free of dask;
any offline read or write through it is a mistake and says so.
"""

from __future__ import annotations

from typing import Any, Literal

from feast.infra.offline_stores.offline_store import OfflineStore
from feast.repo_config import FeastConfigBaseModel

from feature_repo.store import ONLINE_ONLY as TYPE


class OnlineOnlyOfflineStoreConfig(FeastConfigBaseModel):
    type: Literal["feature_repo.online_only.OnlineOnlyOfflineStore"] = TYPE


class OnlineOnlyOfflineStore(OfflineStore):
    """Refuses every offline operation (the pipeline publishes offline tables through the ``file`` store)."""

    def __getattribute__(self, name: str) -> Any:
        raise NotImplementedError(f"this feature store reads online features only (offline {name!r} asked for)")
