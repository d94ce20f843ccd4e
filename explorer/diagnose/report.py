"""Writing a diagnosis: one PNG per finding, an HTML page with all of them, JSON lines, a summary.

File names come from the check, so a folder holds one diagnosis; the CLI checks them before any
work starts (`picture_names`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from explorer.diagnose.doctor import Diagnosis
from explorer.diagnose.findings import CHECKS, Finding
from explorer.fileio import atomic_write_bytes, save_png

REPORT_NAME = "report.html"
COLORS = {"skip": "#7f8c8d", "ok": "#3a7d44", "note": "#b58b00", "warn": "#c0392b"}


def picture_name(finding: Finding) -> str:
    return f"{finding.check}.png"


def picture_names(checks: tuple[str, ...] = CHECKS) -> list[str]:
    """Every file `write_report` may write for these checks."""
    return [REPORT_NAME] + [f"{c}.png" for c in checks]


def json_line(finding: Finding, picture: str | None = None) -> str:
    record = finding.to_dict()
    if picture is not None:
        record["picture"] = picture
    return json.dumps(record)


def summary(diagnosis: Diagnosis) -> str:
    """The readable text the CLI prints: one block per finding, worst first, then a tally."""
    lines = [f"diagnosis of {diagnosis.source}" + (f" (model checks on {diagnosis.snapshot})"
                                                    if diagnosis.snapshot else "")]
    for f in sorted(diagnosis.findings, key=lambda f: -f.rank):
        where = " ".join(x for x in (f.layer or "", f"seed {f.seed}" if f.seed is not None and f.severity != "ok"
                                     else "") if x)
        lines.append(f"[{f.severity.upper():>4}] {f.check:<10} {where}".rstrip())
        lines.append(f"       {f.message}")
        if f.fix:
            lines.append(f"       fix: {f.fix}")
    counts = {s: sum(f.severity == s for f in diagnosis.findings) for s in ("warn", "note", "ok", "skip")}
    skipped = f", {counts['skip']} not judged" if counts["skip"] else ""
    lines.append(f"{counts['warn']} warn, {counts['note']} note, {counts['ok']} ok{skipped} in {diagnosis.seconds:.0f} s")
    return "\n".join(lines)


def write_report(diagnosis: Diagnosis, out: Path, overwrite: bool = False) -> list[str | None]:
    """Pictures and report.html into `out`; each finding's picture file name (None: no picture)."""
    out.mkdir(parents=True, exist_ok=True)
    names = [None if f.picture is None else picture_name(f) for f in diagnosis.findings]
    for f, name in zip(diagnosis.findings, names):
        if name is not None:
            save_png(out / name, f.picture, overwrite=overwrite)
    atomic_write_bytes(out / REPORT_NAME, page(diagnosis, names).encode(), overwrite=overwrite)
    return names


def page(diagnosis: Diagnosis, names: list[str | None]) -> str:
    rows = []
    order = sorted(range(len(diagnosis.findings)), key=lambda i: -diagnosis.findings[i].rank)
    for i in order:
        f, name = diagnosis.findings[i], names[i]
        numbers = html.escape(json.dumps(f.to_dict()["numbers"], indent=1))
        img = (f'<figure><img src="{html.escape(name)}" alt="{f.check}">'
               f"<figcaption>{html.escape(f.caption)}</figcaption></figure>" if name else "")
        rows.append(
            f'<section><h2><span style="background:{COLORS[f.severity]}">{f.severity}</span> '
            f'{html.escape(f.check)}{" &middot; " + html.escape(f.layer) if f.layer else ""}</h2>'
            f"<p>{html.escape(f.message)}</p>"
            + (f"<p><b>What to change:</b> {html.escape(f.fix)}</p>" if f.fix else "")
            + f"{img}<details><summary>numbers</summary><pre>{numbers}</pre></details></section>")
    title = f"Artifact doctor: {html.escape(Path(diagnosis.source).name or diagnosis.source)}"
    style = ("body{font-family:sans-serif;background:#1c1c20;color:#ddd;max-width:960px;margin:auto}"
             "span{color:#fff;padding:2px 8px;border-radius:4px}img{max-width:100%;image-rendering:pixelated}"
             "section{border-bottom:1px solid #444;padding:8px 0}pre{font-size:11px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style>"
            f"</head><body><h1>{title}</h1><p>{html.escape(diagnosis.source)}, {diagnosis.seconds:.0f} s</p>"
            + "".join(rows) + "</body></html>")
