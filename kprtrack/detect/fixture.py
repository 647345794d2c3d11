"""``kprtrack check-fixture yolox DIR``: run the native detector on a YOLOX reference fixture folder.

The folder is laid out like ``shared/fixtures/yolox_reference/``: a checkpoint, ``inputs.npz``
(``num_images``, BGR ``img{i}``), optionally ``architecture.json`` and ``expected.npz``. Every output is
produced through :class:`~kprtrack.detect.detector.YOLOXDetector` from the image (fed as RGB, the
pipeline's order), under the key names of ``expected.npz``:

``img{i}_preproc``, ``img{i}_ratio``, ``img{i}_resized_hw``, ``img{i}_raw_output``, ``img{i}_dets``,
``img{i}_dets_orig``, ``img{i}_dets_agnostic``, ``img{i}_dets_agnostic_orig``, ``img{i}_person_dets_orig``,
``img{i}_num_candidates``, the margins ``img{i}_{conf,cls_top2,nms_iou}_margin`` / ``img{i}_score_gap_min``,
``test_size_hw`` and ``num_images``.

The convention follows the checkpoint (Megvii ``{'model'}`` vs mmdet ``{'meta', 'state_dict'}``) unless
``architecture.json`` names one (``"convention": "mmdet"``). With mmdet's, ``ratio`` is mmcv's scale factor,
``resized_hw`` the rounded size, ``dets`` the NMS result in input pixels (``rescale=False``) and ``dets_orig``
mmdet's rescale-then-NMS result; ``img{i}_scale_factor`` adds the per-axis ``(w_scale, h_scale)``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kprtrack.detect.detector import DEFAULT_THRESHOLDS, FrameDetections, YOLOXDetector, YOLOXDetectorConfig
from kprtrack.detect.postprocess import decision_margins
from kprtrack.detect.weights import load_yolox
from kprtrack.fixture_check import FixtureOutputs, load_image_inputs, tolerance_table

#: tolerances (README "Checks and tolerances"): probabilities 1e-4, raw boxes 1e-2 px + 1e-4 relative,
#: detection boxes 1e-2 px (in input pixels; divided by the ratio in image pixels); derived margins 1e-3.
PROB_ATOL = 1e-4
BOX_ATOL = 1e-2
BOX_RTOL = 1e-4
MARGIN_ATOL = 1e-3

_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt")


def _read_architecture(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    path = folder / "architecture.json"
    if not path.is_file():
        return {}, {}
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    models = doc.get("models") or {}
    entry = next(iter(models.values()), {}) if isinstance(models, dict) else {}
    return doc, entry


def _find_checkpoint(folder: Path, entry: dict[str, Any]) -> Path:
    if entry.get("checkpoint_file"):
        path = folder / str(entry["checkpoint_file"])
        if not path.is_file():
            raise FileNotFoundError(f"architecture.json names checkpoint_file {path.name}, which is not in {folder}")
        return path
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_CHECKPOINT_SUFFIXES))
    if len(found) != 1:
        raise FileNotFoundError(f"expected exactly one checkpoint (*.pth ...) in {folder}, found {len(found)}")
    return found[0]


def _threshold(section: dict[str, Any], names: tuple[str, ...]) -> float | None:
    for name in names:
        value = section.get(name)
        if isinstance(value, (int, float)):
            return float(value)
        match = re.search(rf"\b{name}\s*=\s*([0-9.eE+-]+)", str(section.get("function", "")))
        if match:
            return float(match.group(1))
    return None


def _input_size(entry: dict[str, Any]) -> tuple[int, int] | None:
    for key in ("test_size_hw", "input_size_hw"):
        if key in entry:
            return (int(entry[key][0]), int(entry[key][1]))
    return None


def _detector_config(doc: dict[str, Any], entry: dict[str, Any], checkpoint_format: str) -> YOLOXDetectorConfig:
    """The detector settings the fixture states: convention, thresholds, input size, legacy normalisation."""
    convention = str(entry.get("convention") or doc.get("convention") or checkpoint_format)
    if convention not in DEFAULT_THRESHOLDS:
        convention = "megvii"
    post = doc.get("postprocessing") or {}
    pre = doc.get("preprocessing") or {}
    conf = _threshold(post, ("conf_thre", "score_thr", "conf_threshold"))
    nms = _threshold(post, ("nms_thre", "iou_threshold", "nms_threshold"))
    default_conf, default_nms = (0.1, 0.45) if convention == "megvii" else DEFAULT_THRESHOLDS["mmdet"]
    return YOLOXDetectorConfig(
        input_size=_input_size(entry),
        conf_threshold=default_conf if conf is None else conf,
        nms_threshold=default_nms if nms is None else nms,
        classes=None,
        convention=convention,
        legacy=bool(pre.get("legacy", False)) or "legacy=True" in str(pre.get("function", "")),
    )


def _image_outputs(
    res: FrameDetections, agnostic_in: np.ndarray, agnostic_orig: np.ndarray, detector: YOLOXDetector
) -> dict[str, np.ndarray]:
    """One image's outputs, named as in ``expected.npz`` without the ``img{i}_`` prefix."""
    info = res.letterbox
    cfg = detector.config
    mmdet = cfg.convention == "mmdet"
    out: dict[str, np.ndarray] = {
        "preproc": res.preproc,
        "ratio": np.asarray(info.ratio, dtype=np.float64),
        "resized_hw": np.asarray(info.resized_hw, dtype=np.int64),
    }
    if mmdet:
        out["scale_factor"] = np.asarray(info.box_scale_xy, dtype=np.float64)
    out["raw_output"] = res.raw[None]
    out["dets"] = res.dets_input
    out["dets_orig"] = res.dets
    out["dets_agnostic"] = agnostic_in
    out["dets_agnostic_orig"] = agnostic_orig
    out["person_dets_orig"] = res.dets[res.dets[:, 6] == 0]
    margins = decision_margins(
        torch.from_numpy(res.raw),
        detector.num_classes,
        cfg.conf_threshold,
        cfg.nms_threshold,
        info.box_scale_xy if mmdet else None,
    )
    out["num_candidates"] = np.asarray(int(margins.pop("num_candidates")), dtype=np.int64)
    out.update({key: np.asarray(value, dtype=np.float32) for key, value in margins.items()})
    return out


def _box_tolerances(res: FrameDetections) -> dict[str, float]:
    """Tolerance of one image's box outputs (keys without the ``img{i}_`` prefix)."""
    out = {"raw_output": BOX_ATOL + BOX_RTOL * float(np.abs(res.raw[:, :4]).max(initial=0.0))}
    min_scale = min(res.letterbox.box_scale_xy)
    out.update({key: BOX_ATOL / min_scale for key in ("dets_orig", "dets_agnostic_orig", "person_dets_orig")})
    out.update({key: BOX_ATOL for key in ("dets", "dets_agnostic")})
    return out


#: everything else (preproc: same OpenCV resize; ratio, sizes, counts) is exact.
_OTHER_TOLERANCES = tolerance_table({MARGIN_ATOL: ("*_margin", "*_gap_min")}, default=0.0)


def run_fixture(fixture_dir: Path) -> FixtureOutputs:
    """Run the YOLOX detector on a fixture folder and return every output with its tolerance.

    Raises:
        FileNotFoundError: ``inputs.npz`` or the checkpoint is missing.
        ValueError: unreadable ``architecture.json`` or inputs.
    """
    folder = Path(fixture_dir)
    doc, entry = _read_architecture(folder)
    n, inputs = load_image_inputs(folder / "inputs.npz", ("img{i}",))
    model, fmt = load_yolox(_find_checkpoint(folder, entry))
    detector = YOLOXDetector(model, _detector_config(doc, entry, fmt))
    frames_rgb = [np.ascontiguousarray(inputs[f"img{i}"][:, :, ::-1]) for i in range(n)]  # BGR -> RGB
    results = detector.run(frames_rgb, color="rgb", keep_intermediates=True)
    raws = torch.from_numpy(np.stack([r.raw for r in results]))
    agnostic_orig, agnostic_in = detector.postprocess(raws, [r.letterbox for r in results], class_agnostic=True)

    arrays: dict[str, np.ndarray] = {
        "num_images": np.asarray(n, dtype=np.int64),
        "test_size_hw": np.asarray(detector.config.input_size, dtype=np.int64),
    }
    box_tol: dict[str, float] = {}
    for i, res in enumerate(results):
        outputs = _image_outputs(res, agnostic_in[i], agnostic_orig[i], detector)
        arrays.update({f"img{i}_{key}": value for key, value in outputs.items()})
        box_tol.update({f"img{i}_{key}": tol for key, tol in _box_tolerances(res).items()})

    def tolerance(key: str) -> float:
        return box_tol[key] if key in box_tol else _OTHER_TOLERANCES(key)

    return FixtureOutputs(arrays, tolerance)
