"""The JSON report: strict JSON (no NaN or Infinity), written atomically."""

from __future__ import annotations

import json
import math
import os

from .. import __version__
from .atomic import write_atomic

SCHEMA_VERSION = 1


def plain(value):
    """Make ``value`` strict-JSON-able: numpy scalars to Python, NaN/inf to ``None``."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return plain(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


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
        "run": {"path": os.path.abspath(report.run_dir),
                "artefacts": [{"path": p, "sha256": h} for p, h in sorted(report.files.items())],
                "layout": [{"artefact": c.artefact, "path": os.fspath(c.path), "how": c.how, "pattern": c.pattern,
                            "also_present": list(c.not_read)} for c in report.layout],
                "bindings": [{"role": b.role, "name": b.name, "how": b.how} for b in report.bindings],
                "notes": list(report.notes)},
        "spec": {"path": os.path.abspath(report.spec.path), "name": report.spec.name,
                 "sha256": report.spec.sha256},
        "checks": [result_dict(r) for r in report.results],
        "advice": [{"id": a.id, "recommend": a.recommend, "reason": a.reason, "facts": list(a.facts)}
                   for a in report.advice],
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
    return json.dumps(report_dict(report), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(report, path) -> None:
    write_atomic(path, to_json(report))
