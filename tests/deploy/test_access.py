"""Every function's policy grants exactly what its feature was seen touching: no more, no less.

The recorder (infra/access.py, installed by tests/deploy/access_plugin.py) watched every
feature test drive the app; here its findings are compared with infra/access.json and
with the policy files rendered from it. This module runs last in a session.
"""
from __future__ import annotations

import json

import pytest

from chalicelib.core import config
from infra.access import differences, load_manifest
from infra.stages import CHALICE_DIR, environment, policy_file, stage_functions, stage_names


def test_every_call_was_mapped_and_every_entry_point_ran(derived_access):
    _, problems = derived_access
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("feature", config.ALL_FEATURES)
def test_access_json_holds_exactly_what_the_feature_was_seen_touching(derived_access, feature):
    derived, _ = derived_access
    manifest = load_manifest()
    assert feature in manifest, f"infra/access.json has no {feature!r}: run `python -m infra access`"
    report = []
    for function in sorted(set(derived[feature]) | set(manifest[feature])):
        more, less = differences(derived[feature].get(function, {}), manifest[feature].get(function, {}))
        report += [f"{feature}/{function} grants more: {line}" for line in more]
        report += [f"{feature}/{function} grants less: {line}" for line in less]
    assert not report, "\n".join(report + ["run `python -m infra access` and review the diff of infra/access.json"])


@pytest.mark.parametrize("stage", stage_names())
def test_each_policy_file_is_what_the_derived_access_renders(derived_access, stage):
    from infra.policy import load_target, render_policy

    derived, _ = derived_access
    target = load_target(environment(stage))
    for function in stage_functions(stage):
        on_disk = json.loads((CHALICE_DIR / policy_file(stage, function)).read_text())
        assert on_disk == render_policy(stage, function, target, manifest=derived), \
            f"{policy_file(stage, function)} differs from what the features touch: run `python -m infra access`"
