"""`python -m infra <command>`: render, derive and deploy the mall's infrastructure.

    template [--output FILE] [--prefix P]   CloudFormation for every table and queue
    access                                  derive infra/access.json from the test suites, then `stages`
    stages [--check]                        .chalice/config.json stages and policy files from infra/access.json
    deploy --stage S [--region R]           create/update the environment's stack, write stream ARNs and policies
    destroy --stage S [--delete-data --confirm STACK]
                                            delete the environment's stack and tables (refuses if they hold data)
    domain --domain-name D --certificate-arn A [--deploy]
                                            one custom domain over the feature stages (base-path mappings)
    web --env E --api-domain D [--alias A --certificate-arn C] [--output FILE] [--deploy]
                                            the front ends on S3 + CloudFront, the API behind the same origin
    package --stage S --output DIR          `chalice package` with Gateway Responses and trigger settings merged
    layer                                   before `chalice deploy`: build the dependency layer it uploads, trimmed
                                            and compiled, and compile chalicelib (infra/layer.py, infra/packaging.py)
    openapi [--output FILE] [--server URL]  one OpenAPI document for the whole production API
    input-schemas [--check] [--add REF]     commit request models' JSON schemas (validated without pydantic)
    edges --stage S [--region R]            after `chalice deploy`: Gateway Responses and trigger settings
    redrive QUEUE [--stage S]               replay a dead-letter queue (AWS with --stage, or MALL_DYNAMODB_ENDPOINT)
    create-owner --stage S [--username U]   the first staff owner; password from a prompt or stdin, never argv
    merchant-keys --stage S [--wechatpay-key F [--wechatpay-cert C]] [--alipay-key F [--alipay-app-public-key P]]
                  [--check] [--region R]    the payment private keys into SSM, each fully checked first
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    template = commands.add_parser("template", help="render CloudFormation for every table and queue")
    template.add_argument("--output", type=Path, help="write here instead of standard output")
    template.add_argument("--prefix", help="default TablePrefix parameter (default: the environment's)")
    template.add_argument("--env", default="prod", choices=("dev", "prod"),
                          help="whose log groups and alarms to include (as `infra deploy` renders it)")
    commands.add_parser("access", help="derive infra/access.json by running the test suites, then render stages")
    stages = commands.add_parser("stages", help="render .chalice/config.json stages and policy files")
    stages.add_argument("--check", action="store_true", help="exit 1 if a file is not what would be rendered")
    deploy = commands.add_parser("deploy", help="create or update the stage's environment stack")
    deploy.add_argument("--stage", required=True)
    deploy.add_argument("--region")
    destroy = commands.add_parser("destroy", help="delete the stage's environment stack and tables")
    destroy.add_argument("--stage", required=True)
    destroy.add_argument("--region")
    destroy.add_argument("--delete-data", action="store_true", help="delete tables and queues that hold data")
    destroy.add_argument("--confirm", metavar="STACK", help="the stack name, to confirm --delete-data")
    domain = commands.add_parser("domain", help="custom domain and base-path mappings for the feature stages")
    domain.add_argument("--domain-name", required=True)
    domain.add_argument("--certificate-arn", required=True, help="ACM certificate in the API's region")
    domain.add_argument("--output", type=Path, help="write the template here")
    domain.add_argument("--deploy", action="store_true", help="create or update the stack")
    domain.add_argument("--region")
    web = commands.add_parser("web", help="the storefront and console on S3 + CloudFront (infra/web.py)")
    web.add_argument("--env", default="prod", choices=("dev", "prod"))
    web.add_argument("--api-domain", required=True, help="the API's custom domain (python -m infra domain)")
    web.add_argument("--alias", action="append", default=[], help="the shop's own domain name (repeatable)")
    web.add_argument("--certificate-arn", help="ACM certificate for the aliases, in us-east-1")
    web.add_argument("--output", type=Path, help="write the template here")
    web.add_argument("--deploy", action="store_true", help="create or update the stack, upload web/*/dist")
    web.add_argument("--region")
    package = commands.add_parser("package", help="chalice package the stage with infra.edges merged in")
    package.add_argument("--stage", required=True)
    package.add_argument("--output", type=Path, required=True, help="directory for sam.json and the zips")
    commands.add_parser("layer", help="build Chalice's cached dependency layer, trim and compile it, and compile "
                                     "chalicelib (infra/layer.py)")
    openapi = commands.add_parser("openapi", help="the merged OpenAPI document of every feature (live mode)")
    openapi.add_argument("--output", type=Path, help="write here instead of standard output")
    openapi.add_argument("--server", help="the public base URL (the custom domain), for `servers`")
    schemas = commands.add_parser("input-schemas", help="rewrite the committed JSON schemas of request models "
                                                        "(core/input_schemas.py)")
    schemas.add_argument("--check", action="store_true", help="exit 1 if a committed schema is stale")
    schemas.add_argument("--add", action="append", default=[], metavar="package.module:Model",
                         help="validate this request model against its committed schema from now on")
    edges = commands.add_parser("edges", help="after chalice deploy: Gateway Responses, trigger settings")
    edges.add_argument("--stage", required=True)
    edges.add_argument("--region")
    redrive = commands.add_parser("redrive", help="replay the messages of a dead-letter queue")
    redrive.add_argument("queue", help="its logical name: <handler>-dlq or <queue>-dlq")
    redrive.add_argument("--stage", help="in AWS: the stage whose functions replay (and whose environment's queue)")
    redrive.add_argument("--region")
    owner = commands.add_parser("create-owner", help="create the first owner (password: prompt or stdin)")
    owner.add_argument("--stage", required=True)
    owner.add_argument("--username", default="owner")
    owner.add_argument("--region")
    keys = commands.add_parser("merchant-keys", help="check the merchant's payment private keys, then store them in "
                                                     "SSM (infra/merchant_keys.py)")
    keys.add_argument("--stage", required=True)
    keys.add_argument("--wechatpay-key", type=Path, metavar="FILE", help="WeChat Pay apiclient_key.pem")
    keys.add_argument("--wechatpay-cert", type=Path, metavar="FILE",
                      help="WeChat Pay apiclient_cert.pem: the key must be its pair")
    keys.add_argument("--alipay-key", type=Path, metavar="FILE", help="the Alipay app's RSA2 private key")
    keys.add_argument("--alipay-app-public-key", type=Path, metavar="FILE",
                      help="the app public key uploaded to Alipay: the key must be its pair")
    keys.add_argument("--check", action="store_true", help="store nothing: check the keys SSM holds now")
    keys.add_argument("--region")
    args = parser.parse_args(argv)

    from infra.cloud import InfraError

    try:
        return COMMANDS[args.command](args)
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run_template(args) -> int:
    from infra.stages import table_prefix
    from infra.template import render

    template = render(args.prefix or table_prefix(args.env), env=args.env)
    write_or_print(json.dumps(template, indent=2, ensure_ascii=False) + "\n", args.output)
    return 0


def run_web(args) -> int:
    from infra.web import deploy_web, render_web

    if args.deploy:
        deploy_web(args.env, args.api_domain, tuple(args.alias), args.certificate_arn, region=args.region)
        return 0
    text = json.dumps(render_web(args.api_domain, tuple(args.alias), args.certificate_arn), indent=2) + "\n"
    write_or_print(text, args.output)
    return 0


def run_access(args) -> int:
    from infra.access import MANIFEST
    from infra.access_run import record_by_running_tests
    from infra.stages import write_stages

    derived, problems = record_by_running_tests()
    if problems:
        print("cannot derive access:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    from infra.access import manifest_text

    MANIFEST.write_text(manifest_text(derived), encoding="utf-8")
    changed = write_stages()
    print(f"wrote {MANIFEST.name}; updated {', '.join(path.name for path in changed) or 'no stage file'}")
    return 0


def run_stages(args) -> int:
    from infra.stages import CHALICE_DIR, write_stages

    if args.check:
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / ".chalice"
            shutil.copytree(CHALICE_DIR, copy, ignore=shutil.ignore_patterns("deployments", "venv"))
            if (CHALICE_DIR.parent / "functions").exists():
                shutil.copytree(CHALICE_DIR.parent / "functions", Path(scratch) / "functions")
            changed = [path.relative_to(scratch) for path in write_stages(copy)]
        if changed:
            print("out of date (run `python -m infra stages`): " + ", ".join(map(str, changed)))
            return 1
        return 0
    changed = [path.relative_to(CHALICE_DIR.parent) for path in write_stages()]
    print("updated " + (", ".join(map(str, changed)) or "nothing: already up to date"))
    return 0


def run_deploy(args) -> int:
    from infra.cloud import deploy

    deploy(args.stage, region=args.region)
    return 0


def run_destroy(args) -> int:
    from infra.cloud import destroy

    return destroy(args.stage, delete_data=args.delete_data, confirm=args.confirm, region=args.region)


def run_domain(args) -> int:
    from infra.domain import deploy_domain, render_domain

    if args.deploy:
        deploy_domain(args.domain_name, args.certificate_arn, region=args.region)
    else:
        text = json.dumps(render_domain(args.domain_name, args.certificate_arn), indent=2) + "\n"
        write_or_print(text, args.output)
    return 0


def run_package(args) -> int:
    from infra.cloud import check_stage
    from infra.packaging import ROOT, compile_app_modules, package

    check_stage(args.stage)
    print(f"packaging stage {args.stage} (the first run builds the dependency layer) ...", flush=True)
    compile_app_modules(ROOT)
    output = package(ROOT, args.stage, args.output.resolve())
    print(f"wrote {output / 'sam.json'}; deploy it with `aws cloudformation deploy` (docs/DEPLOY.md)")
    return 0


def run_layer(args) -> int:
    from infra.layer import trim_record
    from infra.packaging import ROOT, build_layer, compile_app_modules

    print("building the dependency layer (the first run after a requirements change downloads wheels) ...",
          flush=True)
    for layer in build_layer():
        took = trim_record(layer)
        print(f"{layer.relative_to(ROOT)}: {layer.stat().st_size / 1e6:.1f} MB after the trim took "
              f"{took['bytes'] / 1e6:.1f} MB ({took['entries']} files) and added {took['compiled']} pycs "
              f"({took['compiled_bytes'] / 1e6:.1f} MB); `chalice deploy` uploads it")
    compile_app_modules(ROOT)
    print("chalicelib/: bytecode written beside each module (checked-hash); `chalice deploy` zips it with them")
    return 0


def run_openapi(args) -> int:
    from infra.apps import merged_openapi

    write_or_print(json.dumps(merged_openapi(args.server), indent=2, ensure_ascii=False) + "\n", args.output)
    return 0


def run_input_schemas(args) -> int:
    from infra.input_schemas import ROOT, Unsupported, write

    try:
        changed = write(args.add, check=args.check)
    except Unsupported as exc:
        print(f"cannot validate without pydantic: {exc}", file=sys.stderr)
        return 1
    names = ", ".join(str(path.relative_to(ROOT)) for path in changed) or "none"
    print(f"{'stale' if args.check else 'written'}: {names}")
    return 1 if args.check and changed else 0


def run_edges(args) -> int:
    from infra.edges import apply_edges

    apply_edges(args.stage, region=args.region)
    return 0


def run_redrive(args) -> int:
    from infra.redrive import redrive

    report = redrive(args.queue, stage=args.stage, region=args.region)
    return 1 if report.failed else 0


def run_create_owner(args) -> int:
    from infra.owner import create_owner, read_password

    create_owner(args.stage, args.username, read_password(), region=args.region)
    return 0


def run_merchant_keys(args) -> int:
    from infra.cloud import InfraError
    from infra.merchant_keys import ALIPAY_KEY, WECHATPAY_KEY, check_stored_keys, from_files, put_merchant_keys

    given = [(WECHATPAY_KEY, args.wechatpay_key, args.wechatpay_cert),
             (ALIPAY_KEY, args.alipay_key, args.alipay_app_public_key)]
    for name, key_file, public_file in given:
        if public_file is not None and key_file is None:
            raise InfraError(f"{public_file} is given without the private key it belongs to ({name})")
    if args.check:
        if any(key_file is not None for _, key_file, _ in given):
            raise InfraError("--check stores nothing and reads SSM: give it no key file")
        return check_stored_keys(args.stage, region=args.region)
    put_merchant_keys(args.stage, [from_files(name, key_file, public_file)
                                   for name, key_file, public_file in given if key_file is not None],
                      region=args.region)
    return 0


def write_or_print(text: str, output: Path | None) -> None:
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


COMMANDS = {"template": run_template, "access": run_access, "stages": run_stages, "deploy": run_deploy,
            "input-schemas": run_input_schemas,
            "destroy": run_destroy, "domain": run_domain, "web": run_web, "package": run_package, "layer": run_layer,
            "edges": run_edges, "openapi": run_openapi, "redrive": run_redrive, "create-owner": run_create_owner,
            "merchant-keys": run_merchant_keys}

if __name__ == "__main__":
    sys.exit(main())
