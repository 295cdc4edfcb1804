"""The recorder behind `infra.access`: which feature's entry point made each AWS call and secret read.

Installed for a whole test session (tests/deploy/access_plugin.py); `infra.access` turns what it
records into grants and policies.
"""
from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Iterable
from types import CodeType
from typing import Any

from infra.access import PII_KEY, Grants, Names, Recording, grants_of_call, merge


class Recorder:
    """Attributes AWS calls and secret reads to the feature whose entry point is running.

    Installed for a whole test session: it patches `BaseClient._make_api_call` (the
    fixtures that patch it later wrap this one), `core.config.secret`, every route
    handler of every feature (to note that it ran) and Chalice's event handler wrapper.
    """

    def __init__(self, features: Iterable[str]):
        from chalicelib.core import http
        from infra.apps import API_FUNCTION, entry_points, routes_module

        self.features = tuple(features)
        self.entry_points: dict[CodeType, tuple[str, str, str]] = entry_points(self.features)
        # A request is the feature's from the moment core.http.serve takes it (auth reads the JWT
        # secret before the handler runs); serve's `op` names the route.
        self.serve_code = http.serve.__code__
        self.routes = {id(op): (feature, f"{op.method} {op.path}", API_FUNCTION)
                       for feature in self.features for op in routes_module(feature).api.operations}
        self.names = Names.current()
        self.recording = Recording()
        self._lock = threading.Lock()
        self._undo: list[tuple[Any, str, Any]] = []

    # which feature is running
    def running(self) -> tuple[str, str, str] | None:
        """The innermost entry point on the stack: (feature, entry point, function).

        Innermost, because in a test one function's entry point can run inside another's (a
        payment delivered in the middle of a sweep, to force a race); in the cloud they are
        two functions, and the call belongs to the one that makes it.
        """
        frame = sys._getframe(2)
        in_mall = False
        while frame is not None:
            if frame.f_code is self.serve_code:
                owner = self.routes.get(id(frame.f_locals.get("op")))
            else:
                owner = self.entry_points.get(frame.f_code)
            if owner is not None:
                return owner
            module = frame.f_globals.get("__name__", "")
            if module.startswith("chalicelib."):
                in_mall = True
            elif in_mall and module.startswith("tests."):
                # Test code called this mall code from inside an entry point (a payment delivered in the
                # middle of a sweep, to force a race): the call is the test's, not the function's.
                return None
            frame = frame.f_back
        return None

    def note(self, grants: Grants) -> None:
        owner = self.running()
        if owner is None:
            return
        feature, entry, function = owner
        with self._lock:
            record = self.recording.features[feature]
            merge(record.functions.setdefault(function, {}), grants)
            record.invoked.add(entry)

    # patches
    def install(self) -> Recorder:
        import botocore.client
        from chalice.app import EventSourceHandler

        from chalicelib.core import config
        from infra.apps import routes_module

        recorder = self
        real_call = botocore.client.BaseClient._make_api_call

        def recording_call(client, operation_name, api_params):
            service = client.meta.service_model.service_name
            try:
                grants = grants_of_call(service, operation_name, api_params, recorder.names)
            except (LookupError, KeyError) as exc:
                if recorder.running() is not None:
                    with recorder._lock:
                        recorder.recording.unmapped.add(str(exc))
            else:
                recorder.note(grants)
            return real_call(client, operation_name, api_params)

        real_secret = config.secret

        def recording_secret(name: str) -> str:
            recorder.note({recorder.names.parameter(name): {"ssm:GetParameter"}})
            return real_secret(name)

        recording_secret.cache_clear = real_secret.cache_clear  # tests clear the cache between secrets

        from chalicelib.core import pii

        real_seal, real_open = pii.Envelope.seal, pii.Envelope.open

        def recording_seal(envelope, plaintext: str, context: str) -> str:
            recorder.note({PII_KEY: {"kms:GenerateDataKey"}})
            return real_seal(envelope, plaintext, context)

        def recording_open(envelope, value: str, context: str) -> str:
            recorder.note({PII_KEY: {"kms:Decrypt"}})
            return real_open(envelope, value, context)

        real_event_call = EventSourceHandler.__call__

        def recording_event_call(handler, event, context):
            owner = recorder.entry_points.get(getattr(handler.func, "__code__", None))
            if owner is not None:
                with recorder._lock:
                    recorder.recording.features[owner[0]].invoked.add(owner[1])
            return real_event_call(handler, event, context)

        self._patch(botocore.client.BaseClient, "_make_api_call", recording_call)
        self._patch(config, "secret", recording_secret)
        self._patch(pii.Envelope, "seal", recording_seal)
        self._patch(pii.Envelope, "open", recording_open)
        self._patch(EventSourceHandler, "__call__", recording_event_call)
        for feature in self.features:
            for op in routes_module(feature).api.operations:
                self._patch(op, "handler", self._noting_handler(op.handler, feature, f"{op.method} {op.path}"))
        return self

    def _noting_handler(self, handler, feature: str, name: str):
        recorder = self

        def noting(*args, **kwargs):
            with recorder._lock:
                recorder.recording.features[feature].invoked.add(name)
            return handler(*args, **kwargs)

        return functools.update_wrapper(noting, handler)  # OpenAPI names operations after the handler

    def _patch(self, owner: Any, attribute: str, value: Any) -> None:
        self._undo.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, value)

    def uninstall(self) -> None:
        while self._undo:
            owner, attribute, value = self._undo.pop()
            setattr(owner, attribute, value)
