"""The Chalice stages: `dev` (every feature in one function) and one stage per feature.

`python -m infra stages` writes them into `.chalice/config.json`, with each stage's
IAM policy file, from three sources: `chalicelib.core.config.ALL_FEATURES` (which
stages exist), the app itself (each feature's routes and event handlers, `infra.apps`)
and each production function's `functions/<folder>/settings.json` (infra.functions; the
`dev` stage's sizing is below). Values `python -m infra deploy` writes (stream ARNs) are kept.

Stages belong to an environment: `dev` alone, or `prod` (every feature stage). An
environment has one set of tables, queues and secrets, shared by its stages.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHALICE_DIR = ROOT / ".chalice"
CONFIG = CHALICE_DIR / "config.json"

APP_NAME = "micromall"
DEV_STAGE = "dev"
API_GATEWAY_STAGE = "api"
LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class FeatureSettings:
    """How a feature's function is sized, and what it reads that the test suites cannot see."""
    memory: int = 512  # MB; Lambda gives CPU in proportion
    timeout: int = 10  # seconds; API Gateway gives up after 29
    concurrency: int = 50  # reserved concurrency of the API function: its floor and its ceiling
    handler_memory: int = 512  # the feature's event handlers
    handler_timeout: int = 60
    # function ("api_handler" or an event handler) -> secrets it reads only against live providers
    # (WeChat, WeChat Pay, Alipay): the tests run their sandbox twins, so the recorder never sees these reads
    live_secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    why: str = ""
    handler_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # handler -> (memory, timeout)


DEFAULT_SETTINGS = FeatureSettings(why="default for a feature not sized yet")
WECHATPAY_SECRETS = ("wechatpay_merchant_private_key", "wechatpay_apiv3_key", "wechatpay_platform_keys")
ALIPAY_SECRETS = ("alipay_app_private_key", "alipay_public_key")

# Sizing of a planned feature until its folders exist under functions/ (infra.functions); once it is
# in ALL_FEATURES, tests/deploy asks for functions/<feature>/settings.json.
NEW_FEATURES: dict[str, FeatureSettings] = {
    "groupbuy": FeatureSettings(memory=1024, timeout=15, concurrency=150, handler_timeout=120,
                                why="group joins during a campaign; settles groups at deadlines"),
    "marketing": FeatureSettings(memory=512, timeout=10, concurrency=100,
                                 why="coupon claims and flash-sale windows"),
}


def _from_folders(feature: str) -> FeatureSettings | None:
    """A deployed feature's sizing from functions/<feature>/settings.json and its handlers' folders."""
    from infra.functions import settings

    api = settings(feature)
    if not api:
        return None
    from infra.apps import shape

    handlers = {handler.name: settings(feature, handler.name) for handler in shape(feature).handlers}
    live = {"api_handler": tuple(api.get("live_secrets", ()))} if api.get("live_secrets") else {}
    live.update({name: tuple(entry["live_secrets"]) for name, entry in handlers.items() if entry.get("live_secrets")})
    return FeatureSettings(memory=api["memory"], timeout=api["timeout"], concurrency=api["reserved_concurrency"],
                           live_secrets=live, why=api.get("why", ""),
                           handler_sizes={name: (entry.get("memory", DEFAULT_SETTINGS.handler_memory),
                                                 entry.get("timeout", DEFAULT_SETTINGS.handler_timeout))
                                          for name, entry in handlers.items()})


DEV_SETTINGS = FeatureSettings(memory=512, timeout=15, concurrency=0, handler_timeout=60)


def feature_settings(feature: str) -> FeatureSettings:
    return _from_folders(feature) or NEW_FEATURES.get(feature, DEFAULT_SETTINGS)


def handler_sizing(stage: str, handler: str) -> tuple[int, int]:
    """(memory, timeout) of one event handler's function in `stage`."""
    settings = DEV_SETTINGS if stage == DEV_STAGE else feature_settings(stage)
    return settings.handler_sizes.get(handler, (settings.handler_memory, settings.handler_timeout))


def all_features() -> tuple[str, ...]:
    from chalicelib.core import config

    return tuple(config.ALL_FEATURES)


def stage_names() -> list[str]:
    return [DEV_STAGE, *all_features()]


def stage_features(stage: str) -> tuple[str, ...]:
    return all_features() if stage == DEV_STAGE else (stage,)


def environment(stage: str) -> str:
    return "dev" if stage == DEV_STAGE else "prod"


def stages_of_environment(env: str) -> list[str]:
    return [stage for stage in stage_names() if environment(stage) == env]


def table_prefix(env: str) -> str:
    return f"{APP_NAME}-{env}-"


def ssm_prefix(env: str) -> str:
    return f"/{APP_NAME}/{env}"


def policy_file(stage: str, function: str = "api_handler") -> str:
    return f"policy-{stage}.json" if function == "api_handler" else f"policy-{stage}-{function}.json"


def lambda_name(stage: str, function: str = "api_handler") -> str:
    """The Lambda function's name as Chalice makes it."""
    return f"{APP_NAME}-{stage}" if function == "api_handler" else f"{APP_NAME}-{stage}-{function}"


def api_name(stage: str) -> str:
    """The stage's REST API name (its function's name): Chalice names the API after the app object
    (the OpenAPI title), which app.py names from MALL_API_NAME. Without it every stage's API, dev and
    prod alike, would be "micromall", and API Gateway's metrics (dimension ApiName) could not tell them apart."""
    return lambda_name(stage)


def stage_functions(stage: str) -> list[str]:
    """The stage's functions: `api_handler`, then one per event handler of its features."""
    from infra.apps import shape

    return ["api_handler", *(handler.name for feature in stage_features(stage) for handler in shape(feature).handlers)]


OWNED_VARIABLES = frozenset({"MALL_FEATURES", "MALL_TABLE_PREFIX", "MALL_SSM_PREFIX", "MALL_BASE_PATHS",
                             "POWERTOOLS_METRICS_NAMESPACE", "MALL_API_NAME", "MALL_PII_KMS_KEY_ID",
                             "MALL_EVENTS_FIREHOSE"})


def pii_key_alias(env: str) -> str:
    from infra.cloud import stack_name

    return f"alias/{stack_name(env)}-pii"


def events_firehose(env: str) -> str:
    from infra.template import EVENTS_STREAM_NAME

    return f"{table_prefix(env)}{EVENTS_STREAM_NAME}"


def render_stage(stage: str, existing: dict[str, Any] | None = None,
                 stream_arns: dict[str, str] | None = None) -> dict[str, Any]:
    """One stage's section of config.json. `stream_arns` (logical table -> ARN) come from the
    environment's deploy record; without one, a stream ARN already in the stage is kept."""
    from infra.alarms import metrics_namespace
    from infra.apps import shape

    existing = dict(existing or {})
    env = environment(stage)
    features = stage_features(stage)
    shapes = [shape(feature) for feature in features]
    settings = DEV_SETTINGS if stage == DEV_STAGE else feature_settings(stage)

    variables = {"MALL_FEATURES": "all" if stage == DEV_STAGE else stage,
                 "MALL_TABLE_PREFIX": table_prefix(env), "MALL_SSM_PREFIX": ssm_prefix(env),
                 # the environment's business metrics apart from the other's (its alarms query this namespace)
                 "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace(env),
                 "MALL_API_NAME": api_name(stage),  # its REST API's name: the API 5XX alarm watches this one
                 # the data stack's KMS key for buyers' personal data, by alias (infra.template.pii_key_resources)
                 "MALL_PII_KMS_KEY_ID": pii_key_alias(env),
                 # the data stack's delivery stream of raw analytics events (infra.template.events_resources)
                 "MALL_EVENTS_FIREHOSE": events_firehose(env)}
    if stage != DEV_STAGE:
        variables["MALL_BASE_PATHS"] = ",".join(shapes[0].base_paths)
    streams = sorted({table for described in shapes for table in described.streams()})
    old_variables = existing.get("environment_variables", {})
    for key, value in old_variables.items():  # yours: provider settings (MALL_WECHAT_APPID, ...)
        if key not in OWNED_VARIABLES and not key.startswith("MALL_STREAM_ARN_"):
            variables[key] = value
    for table in streams:  # Chalice needs them when it deploys the stream handlers
        key = f"MALL_STREAM_ARN_{table.upper()}"
        value = (stream_arns or {}).get(table) or old_variables.get(key)
        if value:
            variables[key] = value

    functions: dict[str, Any] = {}
    if settings.concurrency:
        functions["api_handler"] = {"reserved_concurrency": settings.concurrency}
    for described in shapes:
        for handler in described.handlers:
            memory, timeout = (handler_sizing(described.feature, handler.name) if stage != DEV_STAGE
                               else handler_sizing(DEV_STAGE, handler.name))
            entry: dict[str, Any] = {"lambda_memory_size": memory, "lambda_timeout": timeout,
                                     "iam_policy_file": policy_file(stage, handler.name)}
            if handler.kind == "schedule":
                entry["reserved_concurrency"] = 1  # one sweep at a time; a late run waits for the next tick
            functions[handler.name] = entry

    owned = {
        "api_gateway_stage": API_GATEWAY_STAGE,
        "api_gateway_endpoint_type": "REGIONAL",
        "environment_variables": variables,
        "lambda_memory_size": settings.memory,
        "lambda_timeout": settings.timeout,
        "autogen_policy": False,
        "xray": True,  # active tracing of every function and of the API stage (policy: infra.policy "Traces")
        "iam_policy_file": policy_file(stage),
    }
    if functions:
        owned["lambda_functions"] = functions
    # The environment's stack creates the log groups (infra.template): Chalice 1.34's `log_retention_in_days`
    # makes `chalice package` name the API handler's group after a resource that does not exist.
    stale = {"reserved_concurrency", "lambda_functions", "manage_iam_role", "iam_role_arn", "log_retention_in_days"}
    kept = {key: value for key, value in existing.items() if key not in owned and key not in stale}
    return {**owned, **kept}


def render_config(existing: dict[str, Any], chalice_dir: Path = CHALICE_DIR) -> dict[str, Any]:
    """`.chalice/config.json` with every stage rendered; stages of features that left ALL_FEATURES are dropped."""
    from infra.policy import load_target

    config = dict(existing)
    top_variables = dict(config.get("environment_variables", {}))
    top_variables.pop("MALL_SSM_PREFIX", None)  # per environment now, in each stage
    top_variables["MALL_PROVIDERS"] = "live"
    config.update({"version": "2.0", "app_name": APP_NAME, "automatic_layer": True,
                   "environment_variables": top_variables})
    old_stages = existing.get("stages", {})
    config["stages"] = {stage: render_stage(stage, old_stages.get(stage),
                                            load_target(environment(stage), chalice_dir).stream_arns)
                        for stage in stage_names()}
    return config


def read_config(path: Path = CONFIG) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def config_text(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def write_stages(chalice_dir: Path = CHALICE_DIR) -> list[Path]:
    """Render config.json and every stage's policy file; returns the files that changed."""
    from infra.policy import load_target, policy_text, render_policy

    changed = []
    config_path = chalice_dir / "config.json"
    config = render_config(read_config(config_path), chalice_dir)
    outputs = {config_path: config_text(config)}
    for stage in config["stages"]:
        target = load_target(environment(stage), chalice_dir)
        for function in stage_functions(stage):
            outputs[chalice_dir / policy_file(stage, function)] = policy_text(render_policy(stage, function, target))
    from infra.functions import outputs as function_files

    prod = load_target("prod", chalice_dir)
    outputs.update(function_files(chalice_dir.parent, lambda stage, function: policy_text(
        render_policy(stage, function, prod))))
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    generated = [*chalice_dir.glob("policy-*.json"), *(chalice_dir.parent / "functions").glob("*/function.json"),
                 *(chalice_dir.parent / "functions").glob("*/policy.json")]
    for path in sorted(generated):  # a stage or handler that is gone
        if path not in outputs:
            path.unlink()
            changed.append(path)
    return changed
