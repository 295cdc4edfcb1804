"""The Chalice app, composed from the features named in MALL_FEATURES (default: all).

Each production stage sets MALL_FEATURES to one feature, so each feature deploys
as its own Lambda function with only its own code imported.
"""
from __future__ import annotations

import importlib

from chalice import Chalice

from chalicelib.core import config
from chalicelib.core.http import error_shape_middleware
from chalicelib.core.meta import create_meta_api


def create_app(features: tuple[str, ...]) -> Chalice:
    chalice_app = Chalice(app_name="micromall")
    apis = []
    for feature in features:
        api = importlib.import_module(f"chalicelib.{feature}.routes").api
        chalice_app.register_blueprint(api.blueprint)
        apis.append(api)
    chalice_app.register_blueprint(create_meta_api(lambda: apis, features).blueprint)
    chalice_app.register_middleware(error_shape_middleware, "http")
    return chalice_app


app = create_app(config.enabled_features())
