"""The Chalice app, composed from the features named in MALL_FEATURES (default: all).

Each production stage sets MALL_FEATURES to one feature, so each feature deploys
as its own Lambda function with only its own code imported.

Behind a custom domain, each feature's API is mapped at the first path segment(s)
its routes share (`/catalog/...` at base path `catalog`), and API Gateway strips
the base path before matching a route. A stage mounted that way names those
segments in MALL_BASE_PATHS, and its routes are registered without them: the
public URL stays `/catalog/products/{id}` however the mall is deployed
(docs/DEPLOY.md).
"""
from __future__ import annotations

import gc

# A cold start builds a large object graph (botocore's models and clients, the routes) that lives as long as the
# process; letting the cyclic collector walk it again and again while it grows cost tens of milliseconds of every
# cold start (README, "Cold starts"). It is switched off while this module loads, and what has loaded is then
# frozen out of its way (gc.freeze): later collections only see objects made by requests.
gc.disable()

import importlib  # noqa: E402
import os  # noqa: E402

from chalice import Chalice  # noqa: E402

from chalicelib.core import config, logs, tracing  # noqa: E402
from chalicelib.core.http import error_shape_middleware  # noqa: E402
from chalicelib.core.meta import create_meta_api  # noqa: E402

APP_NAME = "micromall"


class MountedChalice(Chalice):
    """A Chalice app whose routes drop the leading segment a base-path mapping strips.

    It also leaves each blueprint's registrations as it found them (Chalice pops
    `methods` and friends out of them), so the same feature blueprints can be
    composed into more than one app in a process, as `infra` does to describe
    each feature's function.
    """

    def __init__(self, app_name: str, base_paths: tuple[str, ...] = ()) -> None:
        # Chalice would set the "micromall" logger to ERROR without propagation, silencing every
        # micromall.* logger; chalicelib.core.logs configures it instead.
        # Chalice also appends " aws-chalice/<version>" to AWS_EXECUTION_ENV on every app it builds; infra
        # builds one per feature, again and again in a test session, and the variable grew past what exec() takes.
        chalice_tagged = "aws-chalice/" in os.environ.get("AWS_EXECUTION_ENV", "")
        super().__init__(app_name=app_name, configure_logs=False, env=dict(os.environ) if chalice_tagged else None)
        self.base_paths = frozenset(base_paths)

    def _register_handler(self, handler_type, name, user_handler, wrapped_handler, kwargs, options=None):
        kwargs = dict(kwargs)
        if isinstance(kwargs.get("kwargs"), dict):
            kwargs["kwargs"] = dict(kwargs["kwargs"])
        if handler_type == "route":
            kwargs["path"] = unmount(kwargs["path"], self.base_paths)
        super()._register_handler(handler_type, name, user_handler, wrapped_handler, kwargs, options)


def unmount(path: str, base_paths: frozenset[str]) -> str:
    """`/catalog/products` -> `/products` when `catalog` is a base path; other paths unchanged."""
    first, _, rest = path.lstrip("/").partition("/")
    return "/" + rest if first in base_paths else path


def base_paths() -> tuple[str, ...]:
    return tuple(part.strip() for part in (config.env("MALL_BASE_PATHS") or "").split(",") if part.strip())


def create_app(features: tuple[str, ...], mounted_at: tuple[str, ...] = ()) -> Chalice:
    logs.configure()
    # The name is the REST API's (Chalice's OpenAPI title): `micromall-<stage>` in a deployed stage
    # (infra.stages.api_name), so each stage's API has metrics, and an alarm, of its own.
    chalice_app = MountedChalice(config.env("MALL_API_NAME", APP_NAME), mounted_at)
    chalice_app.register_middleware(logs.invocation_middleware, "all")
    chalice_app.register_middleware(tracing.invocation_middleware, "all")  # inside: its subsegment gets the log keys
    apis = []
    for feature in features:
        api = importlib.import_module(f"chalicelib.{feature}.routes").api
        chalice_app.register_blueprint(api.blueprint)
        apis.append(api)
    chalice_app.register_blueprint(create_meta_api(lambda: apis, features, mounted_at).blueprint)
    chalice_app.register_middleware(error_shape_middleware, "http")
    return chalice_app


try:
    app = create_app(config.enabled_features(), base_paths())
finally:
    gc.freeze()
    gc.enable()
