"""Kedro project settings."""

from kedro.config import OmegaConfigLoader


def _coco_root() -> str:
    """``${coco_root:}`` in parameters.yml: GLIMPSE_COCO, else ../shared/data/coco-mini (models.evaluation.coco_root).
    Kedro reads no environment variables in parameters (its ``oc.env`` is for credentials only), so this resolver
    is how the one variable reaches the pipeline."""
    from models.evaluation import coco_root

    return str(coco_root())


CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",  # Kedro's defaults, which setting CONFIG_LOADER_ARGS replaces
    "default_run_env": "local",
    "custom_resolvers": {"coco_root": _coco_root},
}
CONF_SOURCE = "conf"
# kedro-viz's hook warns under parallel runners and adds nothing to a batch run.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-viz",)
