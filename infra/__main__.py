"""`python -m infra template [--output FILE] [--prefix P]`: render the CloudFormation template."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra")
    commands = parser.add_subparsers(dest="command", required=True)
    template = commands.add_parser("template", help="render CloudFormation for every table")
    template.add_argument("--output", type=Path, help="write here instead of standard output")
    template.add_argument("--prefix", default="micromall-dev-", help="default TablePrefix parameter")
    args = parser.parse_args(argv)

    from infra.template import render

    text = json.dumps(render(args.prefix), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
