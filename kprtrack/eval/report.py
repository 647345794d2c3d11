"""Human-readable output: the per-sequence table, the kit's summary lines, the results JSON."""

from __future__ import annotations

import json
import math
import os

import numpy as np

from kprtrack.eval.evaluate import COMBINED, EvalResult, Row
from kprtrack.eval.hota_keypoints import ARRAY_FIELDS, COUNT_FIELDS, KeypointHota
from kprtrack.io.atomic import atomic_write_text

#: The columns of the kit's ``pose_hota_results.txt`` (``HOTAeypoints.paper_summary_results``).
KIT_SUMMARY_ORDER: tuple[str, ...] = (
    "DetPr", "DetRe", "DetA", "AssPr", "AssRe", "AssA", "LocA", "FragA", "HOTA", "RHOTA", "FA-HOTA", "FA-RHOTA",
    "LocA(0)", "HOTALocA(0)", "HOTA(0)", "HOTA_TP", "HOTA_FP", "HOTA_FN", "HOTA_TP(0)", "HOTA_FP(0)", "HOTA_FN(0)",
)  # fmt: skip

POSE_COLUMNS = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "FragA")
CLEAR_COLUMNS = ("MOTA", "IDSW", "precision", "recall")
BOX_COLUMNS = ("HOTA", "DetA", "AssA", "MOTA", "MOTP", "IDF1", "IDSW")


def pct(value: float | None) -> str:
    """``100 * value`` with the kit's ``{:1.5g}`` format (``-`` for a missing value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:1.5g}"


def kit_summary_lines(hota: KeypointHota) -> list[str]:
    """The two lines the kit writes to ``pose_hota_results.txt`` for the COMBINED row."""
    values = []
    for k in KIT_SUMMARY_ORDER:
        if k in ARRAY_FIELDS:
            values.append(pct(float(np.mean(hota.arrays[k][:, -1]))))
        elif k in COUNT_FIELDS:
            values.append(str(int(np.mean(hota.arrays[k][:, -1]))))  # the kit truncates
        elif k in ("HOTA_TP(0)", "HOTA_FP(0)", "HOTA_FN(0)"):
            values.append(str(int(hota.first_alpha[k][-1])))
        else:
            values.append(pct(float(hota.first_alpha[k][-1])))
    header = "Summary & " + " & ".join(k.replace("_", "\\_") for k in KIT_SUMMARY_ORDER)
    return [header, " & " + " & ".join(values)]


def _row_cells(row: Row, protocol: str) -> list[str]:
    s = row.hota.summary()
    c = row.clear(protocol)
    cells = [pct(s[k]) for k in POSE_COLUMNS]
    cells += [pct(c["MOTA"]), str(c["IDSW"]), pct(c["precision"]), pct(c["recall"])]
    return cells


def _format(header: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    width0 = max([len(header[0])] + [len(name) for name, _ in rows]) + 2
    lines = [header[0].ljust(width0) + "".join(h.rjust(9) for h in header[1:])]
    for name, cells in rows:
        lines.append(name.ljust(width0) + "".join(c.rjust(9) for c in cells))
    return lines


def format_report(result: EvalResult) -> str:
    """The stdout report: pose table, box table (if computed), notes and the kit's summary lines."""
    protocol = result.options.clear_protocol
    names = list(result.sequences)
    lines = [f"Keypoint HOTA (PoseTrack21 HOTAeypoints) and pose CLEAR-MOT ({protocol}), in percent"]
    header = ["Sequence", *POSE_COLUMNS, "MOTA", "IDSW", "Pre", "Rec"]
    body = [(n, _row_cells(result.sequences[n], protocol)) for n in names]
    body.append((COMBINED, _row_cells(result.combined, protocol)))
    lines += _format(header, body)
    if result.combined.boxes is not None:
        lines += ["", "Person boxes (trackeval, IoU 0.5), in percent"]
        box_rows = []
        for name, row in [*((n, result.sequences[n]) for n in names), (COMBINED, result.combined)]:
            b = row.boxes or {}
            box_rows.append((name, [str(b[k]) if k == "IDSW" else pct(b[k]) for k in BOX_COLUMNS]))
        lines += _format(["Sequence", *BOX_COLUMNS], box_rows)
    if result.box_note:
        lines += ["", result.box_note]
    if result.missing:
        lines += ["", f"scored as empty predictions (--allow-missing): {', '.join(result.missing)}"]
    if result.options.missing_frame_fn != "sequence":
        lines += [
            "",
            "note: labelled frames without predictions add only their own GT joints to FN (not the kit's rule)",
        ]
    lines += ["", "Kit summary (pose_hota_results.txt):", *kit_summary_lines(result.combined.hota)]
    return "\n".join(lines)


def write_json(result: EvalResult, path: str | os.PathLike[str], detailed: bool = False) -> None:
    """Write ``result.to_json()`` atomically (strict JSON: NaN is written as null)."""
    atomic_write_text(path, json.dumps(result.to_json(detailed), indent=1, allow_nan=False) + "\n")
