"""benchmarks/report.md: the whole report written at once (`make bench`), or one section put in place (`--only`)."""
from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

REPORT = Path(__file__).resolve().parent / "report.md"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def write_report(sections: list[str]) -> None:
    header = f"""# micromall benchmarks

Written by `make bench` on {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC;
Python {platform.python_version()}, {os.cpu_count()} CPU(s), {platform.machine()}. One run: compare ratios, not
absolute times, across machines.
"""
    REPORT.write_text("\n".join([header, *sections]), encoding="utf-8")


def replace_section(section: str) -> None:
    """report.md with `section` in place of the section of the same heading (or appended)."""
    heading = section.lstrip().splitlines()[0]
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else ""
    parts = text.split("\n## ")
    for index, part in enumerate(parts[1:], start=1):
        if "## " + part.splitlines()[0] == heading:
            parts[index] = section.lstrip().removeprefix("## ").rstrip("\n") + "\n"
            REPORT.write_text("\n## ".join(parts), encoding="utf-8")
            return
    REPORT.write_text(text.rstrip("\n") + "\n\n" + section.lstrip(), encoding="utf-8")
