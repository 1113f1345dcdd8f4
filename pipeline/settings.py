"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONF_SOURCE = "conf"
# kedro-viz's hook warns under parallel runners and adds nothing to a batch run.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-viz",)
