"""Which secrets each deployed function can read, found by following its code.

The access recorder (infra/access.py) sees only what the test suites make a function do,
and they run the sandbox providers, which read no secret: a live provider's secrets are
declared by hand (`live_secrets` in `functions/<function>/settings.json`). This walk is the
check on that hand list. From every entry point of a function (its route handlers, or its
event handler) it follows each reference to a mall function or method (a call, or a function
handed on, as a cancel hands `lifecycle.close_provider_trade` to the move), through module
imports and imports inside functions, and collects the literal names of every
`config.secret("<name>")` on the way. It over-approximates (a branch never taken at run time
still counts), which is the safe side for a grant a live cancel must not lack.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from infra.apps import API_FUNCTION, built_app, routes_module

PACKAGE = "chalicelib."


def secrets_reached(feature: str) -> dict[str, set[str]]:
    """Function of `feature` (`api_handler` or an event handler's name) -> the secrets its code can read."""
    from chalicelib.core import http

    operations = routes_module(feature).api.operations
    # The HTTP edge (core.http.serve) runs before every handler: whom a request comes from is its part
    # (core.edge reads edge_secret behind the shop's CloudFront); what it authenticates, the routes declare.
    edge = [http.source_ip_of] if operations else []
    reached = {API_FUNCTION: _secrets_from([*(op.handler for op in operations), *edge])}
    with built_app((feature,)) as app:
        for source in app.event_sources:
            handler = app.handler_map[source.name]
            function = getattr(handler, "func", handler)
            if function.__module__.startswith(f"{PACKAGE}{feature}."):
                reached[source.name] = _secrets_from([function])
    return reached


def _secrets_from(entries: Iterable[Callable[..., Any]]) -> set[str]:
    seen: set[Any] = set()
    pending = list(entries)
    found: set[str] = set()
    while pending:
        function = inspect.unwrap(pending.pop())  # a recorder or decorator may wrap handlers in one shared code object
        if function in seen:
            continue
        seen.add(function)
        secrets, referenced = _read(function)
        found |= secrets
        pending.extend(referenced)
    return found


@cache
def _read(function: Callable[..., Any]) -> tuple[frozenset[str], tuple[Callable[..., Any], ...]]:
    """The secret names `function` reads itself and the mall functions its body refers to."""
    try:
        definition = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    except (OSError, TypeError, IndexError):
        return frozenset(), ()
    body = ast.Module(body=getattr(definition, "body", []), type_ignores=[])  # not its decorators
    names = _names_in_scope(function, body)
    secrets, referenced = set(), []
    for node in ast.walk(body):
        if _is_secret_call(node):
            secrets.add(node.args[0].value)
        target = _resolve(node, names)
        if target is not None:
            referenced.append(target)
    return frozenset(secrets), tuple(referenced)


def _names_in_scope(function: Callable[..., Any], body: ast.Module) -> dict[str, Any]:
    """The function's module globals, plus what it imports inside its own body."""
    names: dict[str, Any] = dict(vars(inspect.getmodule(function)))
    for node in ast.walk(body):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = _import_name(node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = _import_module(alias.name)
    return names


def _import_name(module: str, name: str) -> Any:
    found = getattr(_import_module(module), name, None)
    return found if found is not None else _import_module(f"{module}.{name}")


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _is_secret_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "secret"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "config" and bool(node.args)
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))


def _resolve(node: ast.AST, names: dict[str, Any]) -> Callable[..., Any] | None:
    """The mall function a bare name or `module.name` / `Class.method` refers to, if any."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return _mall_function(names.get(node.id))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = names.get(node.value.id)
        if inspect.ismodule(owner) or inspect.isclass(owner):
            return _mall_function(inspect.getattr_static(owner, node.attr, None))
    return None


def _mall_function(value: Any) -> Callable[..., Any] | None:
    if isinstance(value, (classmethod, staticmethod)):
        value = value.__func__
    value = inspect.unwrap(value) if inspect.isfunction(value) else value
    if inspect.isfunction(value) and value.__module__.startswith(PACKAGE):
        return value
    return None
