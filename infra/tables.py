"""The mall's tables, found from the PynamoDB models every feature registers."""
from __future__ import annotations

import importlib
import importlib.util

from pynamodb.models import Model

from chalicelib.core import config
from chalicelib.core.db import registered_models


def load_models() -> list[type[Model]]:
    """Import every feature's models module (and core's) and return the registered models."""
    importlib.import_module("chalicelib.core.models")
    for feature in config.ALL_FEATURES:
        module = f"chalicelib.{feature}.models"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return sorted(registered_models(), key=lambda model: model.Meta.table_name)


def create_tables(wait: bool = False) -> list[str]:
    """Create every table that does not exist yet; returns the names it created."""
    created = []
    for model in load_models():
        if not model.exists():
            model.create_table(wait=wait)
            created.append(model.Meta.table_name)
    return created
