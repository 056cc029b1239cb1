"""The JSON report: strict JSON (no NaN or Infinity), written atomically."""

from __future__ import annotations

import json
import math
import os
import re

from .. import __version__
from .atomic import write_atomic

SCHEMA_VERSION = 1


MAX_DEPTH = 100  # levels of nesting a value keeps in the report; deeper is a note (a config is refused past 100)
MAX_INT_BITS = 14_000  # about 4 200 digits: Python refuses to write an int of more than 4 300 as text
_SURROGATE = re.compile("[\ud800-\udfff]")


def plain(value, _depth=0):
    """Make ``value`` strict-JSON-able: numpy scalars to Python, NaN/inf to ``None``.

    Nesting deeper than ``MAX_DEPTH`` (or a structure that contains itself) becomes a string saying
    so, and an integer too long to write as text a string giving its size: the report is always written.
    """
    if _depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        return f"<nested deeper than {MAX_DEPTH} levels: not shown>"
    if isinstance(value, dict):
        return {str(k): plain(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, _depth + 1) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return plain(value.tolist(), _depth)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        return f"<an integer of {value.bit_length()} bits: not shown>"
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def escape_surrogates(text: str) -> str:
    """JSON text with each lone surrogate (``"\\ud800"`` in a config is one) written as its ``\\uXXXX``
    escape: still strict JSON that reads back to the same string, and encodable as UTF-8."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _nonfinite_note(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return None


def result_dict(result) -> dict:
    out = {
        "id": result.id,
        "kind": result.kind,
        "severity": result.severity,
        "status": result.status,
        "observed": plain(result.observed),
        "bound": result.bound,
        "message": result.message,
        "evidence": plain(result.evidence),
    }
    note = _nonfinite_note(result.observed)
    if note:
        out["observed_note"] = f"observed value was {note}: never within a bound"
    if result.description:
        out["description"] = result.description
    return out


def report_dict(report) -> dict:
    counts = report.counts()
    return {
        "schema_version": SCHEMA_VERSION,
        "runverdict_version": __version__,
        "verdict": report.verdict,
        "exit_code": int(report.exit_code),
        "summary": counts,
        "run": {"path": report.run_dir if getattr(report, "source", None) else os.path.abspath(report.run_dir),
                "artefacts": [{"path": p, "sha256": h} for p, h in sorted(report.files.items())],
                "layout": [{"artefact": c.artefact, "path": os.fspath(c.path), "how": c.how, "pattern": c.pattern,
                            "also_present": list(c.not_read)} for c in report.layout],
                "bindings": [{"role": b.role, "name": b.name, "how": b.how} for b in report.bindings],
                "notes": list(report.notes),
                "source": getattr(report, "source", None)},
        "spec": {"path": os.path.abspath(report.spec.path), "name": report.spec.name,
                 "sha256": report.spec.sha256},
        "checks": [result_dict(r) for r in report.results],
        "decision": report.decision.as_dict() if getattr(report, "decision", None) is not None else None,
        "advice": [{"id": a.id, "recommend": a.recommend, "reason": a.reason, "facts": list(a.facts),
                    "supports": getattr(a, "supports", None)} for a in report.advice],
        "advice_warnings": list(getattr(report, "advice_warnings", ())),
        "baseline": baseline_dict(report.baseline),
        "seconds": report.seconds,
    }


def baseline_dict(comparison):
    if comparison is None:
        return None
    return {
        "path": os.path.abspath(comparison.baseline_dir),
        "verdict": comparison.baseline_verdict,
        "deltas": [plain({"name": d.name, "source": d.source, "candidate": d.candidate, "baseline": d.baseline,
                          "delta": d.delta, "relative": d.relative, "better": d.better, "change": d.change})
                   for d in comparison.rows],
    }


def to_json(report) -> str:
    # a lone surrogate stays a string character until here, then becomes its escape
    return escape_surrogates(json.dumps(report_dict(report), indent=2, allow_nan=False, ensure_ascii=False)) + "\n"


def write_json(report, path) -> None:
    write_atomic(path, to_json(report))
