"""What each feature deploys, read from the app itself: its routes, event handlers and entry points.

Nothing here is a hand-kept list: a feature's shape is whatever `create_app((feature,))`
registers, so a new feature in `chalicelib.core.config.ALL_FEATURES` is described the
moment it lands.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

META_PATHS = frozenset({"/health", "/openapi.json"})  # chalicelib.core.meta: every deployment serves them
API_FUNCTION = "api_handler"  # Chalice's name for the function behind every route of a stage


@dataclass(frozen=True)
class EventHandler:
    """One event handler (its own Lambda function in the cloud)."""
    name: str
    kind: str  # "stream", "queue" or "schedule"
    source: str | None = None  # the logical table of a stream, the logical queue of a queue
    batch_size: int | None = None


@dataclass
class FeatureShape:
    feature: str
    routes: list[tuple[str, str]] = field(default_factory=list)  # (path, METHOD), public paths
    handlers: list[EventHandler] = field(default_factory=list)

    @property
    def base_paths(self) -> tuple[str, ...]:
        """The first path segments of the feature's routes: where a custom domain mounts its API."""
        return tuple(sorted({path.lstrip("/").split("/", 1)[0] for path, _ in self.routes}))

    def streams(self) -> list[str]:
        return sorted({h.source for h in self.handlers if h.kind == "stream" and h.source})

    def queues(self) -> list[str]:
        return sorted({h.source for h in self.handlers if h.kind == "queue" and h.source})


def routes_module(feature: str) -> Any:
    return importlib.import_module(f"chalicelib.{feature}.routes")


@contextmanager
def built_app(features: tuple[str, ...], mounted_at: tuple[str, ...] = ()) -> Iterator[Any]:
    """A Chalice app of `features`, built in this process without disturbing the app already built.

    Registering a blueprint on a second app repoints the blueprint at it, and the
    first app's routes would then read the second app's (empty) current request;
    each blueprint gets its first app back on exit.
    """
    import app as app_module

    blueprints = [routes_module(feature).api.blueprint for feature in features]
    previous = [blueprint._current_app for blueprint in blueprints]
    try:
        yield app_module.create_app(tuple(features), tuple(mounted_at))
    finally:
        for blueprint, owner in zip(blueprints, previous, strict=True):
            blueprint._current_app = owner


def feature_of_module(module: str) -> str | None:
    """`chalicelib.<feature>.x` -> feature; None for core and anything outside chalicelib."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "chalicelib" and parts[1] != "core":
        return parts[1]
    return None


def shape(feature: str) -> FeatureShape:
    from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

    from chalicelib.core import config
    from chalicelib.core.events import table_of_stream_arn
    from infra.tables import load_models

    logical_tables = {model.Meta.table_name: model.Meta.logical_name for model in load_models()}
    result = FeatureShape(feature)
    with built_app((feature,)) as app:
        for path, methods in app.routes.items():
            if path in META_PATHS:
                continue
            result.routes.extend((path, method) for method in sorted(methods))
        for source in app.event_sources:
            owner = feature_of_module(source.handler_string.rsplit(".", 1)[0])
            if owner != feature:
                continue
            if isinstance(source, DynamoDBEventConfig):
                table = table_of_stream_arn(source.stream_arn)
                result.handlers.append(EventHandler(source.name, "stream", logical_tables.get(table, table),
                                                    source.batch_size))
            elif isinstance(source, SQSEventConfig):
                queue = source.queue or str(source.queue_arn).rsplit(":", 1)[-1]
                result.handlers.append(EventHandler(source.name, "queue", queue.removeprefix(config.table_prefix()),
                                                    source.batch_size))
            elif isinstance(source, ScheduledEventConfig):
                result.handlers.append(EventHandler(source.name, "schedule"))
            else:  # S3, SNS, websockets: the mall uses none; a new kind must be taught to infra
                raise TypeError(f"{feature}: event source {source.name} of unsupported kind {type(source).__name__}")
    result.routes.sort()
    result.handlers.sort(key=lambda handler: handler.name)
    return result


def entry_points(features: tuple[str, ...]) -> dict[CodeType, tuple[str, str, str]]:
    """Code object of every route handler and event handler -> (feature, entry point, Lambda function).

    A call to AWS made while one of these is on the stack is made by that function of
    that feature: `api_handler` for a route, the handler's own function for an event handler.
    The innermost one on the stack decides (infra.access.Recorder.running).
    """
    found: dict[CodeType, tuple[str, str, str]] = {}
    route_callees: set[CodeType] = set()
    for feature in features:
        for op in routes_module(feature).api.operations:
            found[op.handler.__code__] = (feature, f"{op.method} {op.path}", API_FUNCTION)
            route_callees.update(callee.__code__ for callee in direct_callees(op.handler))
        with built_app((feature,)) as app:
            for source in app.event_sources:
                handler = app.handler_map[source.name]
                function = getattr(handler, "func", handler)
                owner = feature_of_module(function.__module__)
                if owner == feature:
                    found[function.__code__] = (feature, source.name, source.name)
                    # An event handler is thin: its work is one call into the feature's service, and
                    # tests often drive that call directly (the sweep, the reconciliation). What it does
                    # is the handler's, whoever calls it.
                    # (Not when a route calls it too: then it does not tell whose call it is.)
                    for callee in direct_callees(function):
                        if callee.__code__ not in route_callees:
                            found.setdefault(callee.__code__, (feature, source.name, source.name))
    return found


def direct_callees(function: Callable[..., Any]) -> list[Callable[..., Any]]:
    """The feature functions `function` calls as `module.name(...)` (modules imported globally or inside it)."""
    definition = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    body = ast.Module(body=definition.body, type_ignores=[])  # not the decorator's arguments
    names: dict[str, Any] = dict(vars(inspect.getmodule(function)))
    for node in ast.walk(body):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                try:
                    names[alias.asname or alias.name] = importlib.import_module(f"{node.module}.{alias.name}")
                except ImportError:
                    pass
    callees = []
    for node in ast.walk(body):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            module = names.get(node.func.value.id)
            target = getattr(module, node.func.attr, None) if inspect.ismodule(module) else None
            if inspect.isfunction(target) and feature_of_module(target.__module__):
                callees.append(target)
    return callees


def merged_openapi(server: str | None = None) -> dict[str, Any]:
    """One OpenAPI document for the production API: every feature's routes at their public URLs.

    Live mode: the sandbox-only routes are left out. Each feature's `/health` and
    `/openapi.json` (under its base path) are operational, not the shop's API, and are
    left out too: their operation ids would repeat once per feature.
    """
    from chalicelib.core import config
    from chalicelib.core.openapi import build

    apis = [routes_module(feature).api for feature in config.ALL_FEATURES]
    return build(apis, servers=[server] if server else [], sandbox=False)
