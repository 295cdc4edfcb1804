"""`make bench`: measure, then write benchmarks/report.md.

Every figure in one report comes from one run on one machine, so ratios are
comparable even when the machine is noisy; absolute times are not.
`python -m benchmarks.run --only dashboard` (`make bench SECTION=dashboard`) runs one
section that needs nothing but the tables and puts it in place in the report.
`python -m benchmarks.run cold-start [function ...]` runs the cold start section alone (for the functions named,
default all) and prints it without touching the report: what a change to a function's first request is judged by.
`python -m benchmarks.run first-requests` answers each first request once in a fresh process and prints, per
request, a JSON line of its status and the heavy modules it loaded (tests/unit/test_lazy_imports.py reads them).

This module is the command line and the order of the sections. The bench's server and tables are in
bench_tables.py; the sections in their own modules (cold_start.py, import_time.py, dynamodb_calls.py,
dashboard_bench.py, checkout.py, ...); report.py writes benchmarks/report.md.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

from benchmarks.bench_tables import bench_server, prepare
from benchmarks.cold_start import cold_start_section, first_requests, print_first_requests
from benchmarks.dynamodb_calls import dynamodb_calls_section
from benchmarks.import_time import import_section
from benchmarks.report import REPORT, replace_section, write_report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--only"] and len(argv) == 2:
        return run_one(argv[1])
    if argv[:1] == ["cold-start"]:
        return with_bench_tables(lambda fixtures: print(cold_start_section(fixtures, set(argv[1:]) or None)),
                                 argv[1:])
    if argv == ["first-requests"]:
        return with_bench_tables(print_first_requests, [])
    if argv:
        print(f"usage: python -m benchmarks.run [--only {'|'.join(SINGLE_SECTIONS)} | cold-start [function ...] "
              "| first-requests]", file=sys.stderr)
        return 2
    from benchmarks.checkout import checkout_section
    from benchmarks.dashboard_bench import dashboard_section
    from benchmarks.flash_bench import flash_stack_section
    from benchmarks.flash_capacity import flash_capacity_section
    from benchmarks.local_stack import local_stack_section
    from benchmarks.packages import section as packages_section
    from benchmarks.web_bench import web_section

    with bench_server() as endpoint:
        fixtures = prepare(endpoint)
        sections = [
            cold_start_section(fixtures),
            import_section(),
            dynamodb_calls_section(),
            dashboard_section(),
            checkout_section(),
            local_stack_section(),
            flash_stack_section(),
            flash_capacity_section(),
            packages_section(),
            web_section(),
        ]
    write_report(sections)
    print(REPORT.read_text())
    return 0


# Sections that need only the embedded DynamoDB and the tables (no shared fixtures): `--only <name>` runs one of
# them alone and puts its text in place of the same section of report.md (the rest of the report is kept).
SINGLE_SECTIONS = {"dashboard": "benchmarks.dashboard_bench:dashboard_section", "web": "benchmarks.web_bench:web_section",
                   "calls": "benchmarks.dynamodb_calls:dynamodb_calls_section",
                   "checkout": "benchmarks.checkout:checkout_section",  # starts its own stacks
                   "flash": "benchmarks.flash_bench:flash_stack_section"}  # starts its own stack


def run_one(name: str) -> int:
    import importlib

    from infra.tables import create_tables

    if name not in SINGLE_SECTIONS:
        print(f"no section {name!r}; one of: {', '.join(SINGLE_SECTIONS)}", file=sys.stderr)
        return 2
    module, _, function = SINGLE_SECTIONS[name].partition(":")
    with bench_server():
        create_tables(wait=True)
        section = getattr(importlib.import_module(module), function)()
    replace_section(section)
    print(section)
    return 0


def with_bench_tables(run: Callable[[dict], None], functions: list[str]) -> int:
    """`run(fixtures)` against a fresh embedded DynamoDB holding the bench tables (`functions`: known stages)."""
    known = {request.function for request in first_requests()}
    if unknown := set(functions) - known:
        print(f"no first request for {sorted(unknown)}; known: {sorted(known)}", file=sys.stderr)
        return 2
    with bench_server() as endpoint:
        run(prepare(endpoint))
    return 0


if __name__ == "__main__":
    sys.exit(main())
