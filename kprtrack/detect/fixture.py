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

from kprtrack.detect.detector import DEFAULT_THRESHOLDS, YOLOXDetector, YOLOXDetectorConfig
from kprtrack.detect.postprocess import decision_margins
from kprtrack.detect.weights import load_yolox
from kprtrack.fixture_check import FixtureOutputs

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


def run_fixture(fixture_dir: Path) -> FixtureOutputs:
    """Run the YOLOX detector on a fixture folder and return every output with its tolerance.

    Raises:
        FileNotFoundError: ``inputs.npz`` or the checkpoint is missing.
        ValueError: unreadable ``architecture.json`` or inputs.
    """
    folder = Path(fixture_dir)
    doc, entry = _read_architecture(folder)
    inputs_path = folder / "inputs.npz"
    if not inputs_path.is_file():
        raise FileNotFoundError(f"inputs.npz not found in {folder}")
    model, fmt = load_yolox(_find_checkpoint(folder, entry))
    convention = str(entry.get("convention") or doc.get("convention") or fmt)
    if convention not in DEFAULT_THRESHOLDS:
        convention = "megvii"
    post = doc.get("postprocessing") or {}
    pre = doc.get("preprocessing") or {}
    conf = _threshold(post, ("conf_thre", "score_thr", "conf_threshold"))
    nms = _threshold(post, ("nms_thre", "iou_threshold", "nms_threshold"))
    legacy = bool(pre.get("legacy", False)) or "legacy=True" in str(pre.get("function", ""))
    with np.load(inputs_path, allow_pickle=False) as data:
        if "num_images" not in data.files:
            raise ValueError(f"{inputs_path}: no 'num_images' entry")
        n = int(data["num_images"])
        missing = [f"img{i}" for i in range(n) if f"img{i}" not in data.files]
        if missing:
            raise ValueError(f"{inputs_path}: missing images {missing}")
        images_bgr = [np.asarray(data[f"img{i}"]) for i in range(n)]
    if conf is None or nms is None:
        default_conf, default_nms = (0.1, 0.45) if convention == "megvii" else DEFAULT_THRESHOLDS["mmdet"]
        conf = default_conf if conf is None else conf
        nms = default_nms if nms is None else nms
    config = YOLOXDetectorConfig(
        input_size=_input_size(entry),
        conf_threshold=conf,
        nms_threshold=nms,
        classes=None,
        convention=convention,
        legacy=legacy,
    )
    detector = YOLOXDetector(model, config)
    frames_rgb = [np.ascontiguousarray(img[:, :, ::-1]) for img in images_bgr]
    results = detector.run(frames_rgb, color="rgb", keep_intermediates=True)
    raws = torch.from_numpy(np.stack([r.raw for r in results]))
    infos = [r.letterbox for r in results]
    agnostic_orig, agnostic_in = detector.postprocess(raws, infos, class_agnostic=True)

    arrays: dict[str, np.ndarray] = {
        "num_images": np.asarray(n, dtype=np.int64),
        "test_size_hw": np.asarray(detector.config.input_size, dtype=np.int64),
    }
    box_tol: dict[str, float] = {}
    for i, res in enumerate(results):
        info = res.letterbox
        p = f"img{i}_"
        arrays[p + "preproc"] = res.preproc
        arrays[p + "ratio"] = np.asarray(info.ratio, dtype=np.float64)
        arrays[p + "resized_hw"] = np.asarray(info.resized_hw, dtype=np.int64)
        if convention == "mmdet":
            arrays[p + "scale_factor"] = np.asarray(info.box_scale_xy, dtype=np.float64)
        arrays[p + "raw_output"] = res.raw[None]
        arrays[p + "dets"] = res.dets_input
        arrays[p + "dets_orig"] = res.dets
        arrays[p + "dets_agnostic"] = agnostic_in[i]
        arrays[p + "dets_agnostic_orig"] = agnostic_orig[i]
        arrays[p + "person_dets_orig"] = res.dets[res.dets[:, 6] == 0]
        margins = decision_margins(
            torch.from_numpy(res.raw),
            detector.num_classes,
            conf,
            nms,
            info.box_scale_xy if convention == "mmdet" else None,
        )
        arrays[p + "num_candidates"] = np.asarray(int(margins.pop("num_candidates")), dtype=np.int64)
        for key, value in margins.items():
            arrays[p + key] = np.asarray(value, dtype=np.float32)
        box_tol[p + "raw_output"] = BOX_ATOL + BOX_RTOL * float(np.abs(res.raw[:, :4]).max(initial=0.0))
        min_scale = min(info.box_scale_xy)
        for key in ("dets_orig", "dets_agnostic_orig", "person_dets_orig"):
            box_tol[p + key] = BOX_ATOL / min_scale
        for key in ("dets", "dets_agnostic"):
            box_tol[p + key] = BOX_ATOL

    def tolerance(key: str) -> float:
        if key in box_tol:
            return box_tol[key]
        if key.endswith(("_margin", "_gap_min")):
            return MARGIN_ATOL
        return 0.0  # preproc (same OpenCV resize), ratio, sizes, counts: exact

    return FixtureOutputs(arrays, tolerance)
