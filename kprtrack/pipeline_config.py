"""Configuration of the whole pipeline (``configs/*.yaml``), validated into dataclasses.

The dataclass defaults below are the paper's setting with the official checkpoints and are the
single source of default values: ``configs/kprtrack.yaml`` restates them (a test checks that) and
``configs/demo.yaml`` overrides what differs for the project's shipped small weights.

This module imports no stage implementation (no torch, cv2 or lap): each section's ``kind`` is
looked up in the stage registries of :mod:`kprtrack.registry` when the config is loaded from a
file and again when the pipeline is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprtrack.config import ConfigError, apply_overrides, dataclass_from_dict, load_yaml
from kprtrack.track.config import TRACKER_CONFIGS, OutputFilterConfig, TrackerConfig

DTYPES = ("float32", "float16", "bfloat16")
#: what may run a detector's or pose estimator's network: the torch module itself, a torch copy with
#: folded BatchNorms in channels-last memory, or its ONNX Runtime export (CPU only, optional extra).
BACKENDS = ("torch", "torch_fused", "onnxruntime")
#: devices a config may name (whether one is present is checked when the pipeline is built).
DEVICE_PATTERN = re.compile(r"cpu|cuda(:\d+)?|mps")


def _check_backend(backend: str, where: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"{where}: {backend!r} is not one of {', '.join(BACKENDS)}")


@dataclass
class DetectorSection:
    """Person detector.

    Attributes:
        kind: a registered detector (``kprtrack.registry.DETECTORS``): ``yolox`` (native),
            ``ultralytics`` (any ultralytics model; ``weights`` is its ``.pt`` or model YAML) or
            ``oracle`` (ground truth).
        weights: manifest name or file path of the checkpoint; ``random:<variant>`` builds the
            variant with random weights (wiring tests, speed benchmarks).
        input_size: network input ``[height, width]``; ``None`` = the variant's test size. Larger finds
            smaller people and costs more.
        score_threshold: detections below are discarded; ``None`` = the checkpoint convention's
            reference value (Megvii 0.1, mmdet 0.01). Raising it drops the low-confidence detections
            ByteTrack's second association pass relies on.
        nms_threshold: IoU above which overlapping boxes are suppressed; ``None`` = the convention's
            value (Megvii 0.45, mmdet 0.65). Raising it keeps more overlapping people (and duplicates).
        backend: what runs the network: ``torch`` (the reference numerics), ``torch_fused`` (a copy
            with BatchNorm folded into the convolutions, in channels-last memory: 1.2-1.8x faster on a
            CPU) or ``onnxruntime`` (exported to ONNX and run by ONNX Runtime: CPU only,
            ``pip install 'kprtrack[onnxruntime]'``, 2-4x faster on a CPU). Both give the same outputs
            to float32 rounding (keypoints within a few hundredths of a pixel). ``kind: yolox`` supports them.
    """

    kind: str = "yolox"
    weights: str = "yolox_x_mmdet_coco"
    input_size: tuple[int, ...] | None = None
    score_threshold: float | None = None
    nms_threshold: float | None = None
    backend: str = "torch"

    def __post_init__(self) -> None:
        _check_backend(self.backend, "detector.backend")
        if self.input_size is not None and (len(self.input_size) != 2 or min(self.input_size) <= 0):
            raise ValueError(f"detector.input_size: expected [height, width], got {list(self.input_size)}")
        for name in ("score_threshold", "nms_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"detector.{name}: expected a value in [0, 1] or null, got {value!r}")


@dataclass
class PoseSection:
    """Top-down pose estimator.

    Attributes:
        kind: a registered pose estimator (``kprtrack.registry.POSE_ESTIMATORS``): ``hrnet``
            (native), ``ultralytics`` (the detector's YOLO-pose model), ``mmpose`` or ``oracle``.
        weights: manifest name or checkpoint path (``random:<variant>``: random weights).
        config: mmpose ``config.py`` (required for ``kind: mmpose``; optional for ``hrnet``, whose
            architecture is otherwise read from the checkpoint).
        flip_test: average with the horizontally flipped crop (better keypoints, twice the cost).
        backend: ``torch``, ``torch_fused`` or ``onnxruntime`` (as ``detector.backend``); ``kind``
            ``hrnet`` and ``tinypose`` support them (PP-TinyPose's BatchNorms are already folded:
            ``torch_fused`` only changes its memory format).
    """

    kind: str = "hrnet"
    weights: str = "hrnet_w32_posetrack18"
    config: str | None = None
    flip_test: bool = True
    backend: str = "torch"

    def __post_init__(self) -> None:
        _check_backend(self.backend, "pose.backend")


@dataclass
class ReidSection:
    """KPR re-identification.

    Attributes:
        kind: a registered embedder (``kprtrack.registry.EMBEDDERS``): ``kpr`` (part-based, prompted),
            ``omz`` (a global appearance embedding, one always-visible part) or ``none`` (no appearance:
            only for trackers that need none, e.g. the IoU baseline).
        weights: manifest name or checkpoint path (``random:<variant>``: random weights).
        use_prompts: feed the keypoint prompts (positives and in-box negatives); ``False`` runs
            KPR in its prompt-optional mode.
        batch_size: crops per forward pass.
        prompt_threshold: joints scoring at most this are not drawn into KPR's prompts; ``None`` keeps
            the checkpoint's value (0.3 in the reference, tuned for HRNet's scores). Raising it keeps
            hidden joints (which score-as-heatmap-peak models such as PP-TinyPose still rate 0.3-0.6)
            out of the positive prompts, at the price of some visible ones.
    """

    kind: str = "kpr"
    weights: str = "kpr_occ_posetrack_solider"
    use_prompts: bool = True
    batch_size: int = 32
    prompt_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.batch_size <= 0:
            raise ValueError("reid.batch_size: must be positive")
        if self.prompt_threshold is not None and not 0.0 <= self.prompt_threshold <= 1.0:
            raise ValueError(f"reid.prompt_threshold: expected a value in [0, 1], got {self.prompt_threshold}")


@dataclass
class TrackerSection:
    """Tracker choice.

    Attributes:
        kind: ``kprtrack`` (KPR part distance) or ``bytetrack_iou`` (IoU-only baseline).
        params: overrides of that tracker's config dataclass (see ``configs/tracker/<kind>.yaml``
            and docs/tracker.md); unknown keys are errors.
    """

    kind: str = "kprtrack"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.build_config()  # validate params now: unknown keys are errors at load time

    def build_config(self) -> TrackerConfig:
        """The tracker variant's config dataclass with ``params`` applied.

        Raises:
            ConfigError: unknown kind, unknown key or bad value (naming it).
        """
        if self.kind not in TRACKER_CONFIGS:
            raise ConfigError(f"tracker.kind: {self.kind!r} is not one of {', '.join(sorted(TRACKER_CONFIGS))}")
        return dataclass_from_dict(TRACKER_CONFIGS[self.kind], self.params, f"tracker.params ({self.kind})")


@dataclass
class PipelineConfig:
    """Everything ``kprtrack run`` needs.

    Attributes:
        detector, pose, reid, tracker: the sections above.
        output: filters applied when writing predictions (:class:`kprtrack.track.filters.OutputFilterConfig`).
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        dtype: compute precision of the networks on GPU (``float32``, ``float16``, ``bfloat16``).
        max_people: keep at most this many detections per frame.
        threads: CPU threads torch may use (process-wide); ``None`` keeps torch's default (one per
            core). Small models run faster on one thread when other work shares the cores.
        seed: torch's random seed, set before the stages are built (only ``random:`` weights use it);
            ``None`` leaves the generator alone.
        overlap: run detection, pose and appearance of consecutive frames at the same time, each
            stage in a worker thread (:meth:`kprtrack.pipeline.Pipeline.track_with_frames`); the records
            are the same as without. Uses a second core when ``threads`` is 1.
    """

    detector: DetectorSection = field(default_factory=DetectorSection)
    pose: PoseSection = field(default_factory=PoseSection)
    reid: ReidSection = field(default_factory=ReidSection)
    tracker: TrackerSection = field(default_factory=TrackerSection)
    output: OutputFilterConfig = field(default_factory=OutputFilterConfig)
    device: str = "cpu"
    dtype: str = "float32"
    max_people: int = 100
    threads: int | None = None
    seed: int | None = None
    overlap: bool = False

    def __post_init__(self) -> None:
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device: expected cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"pipeline.dtype: {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads: expected a positive number or null, got {self.threads}")
        if self.max_people < 1:
            raise ValueError(f"max_people: expected a positive number, got {self.max_people}")
        if self.reid.kind == "none" and self.tracker.build_config().needs_appearance:
            raise ValueError(
                f"tracker.kind {self.tracker.kind} needs appearance: set reid.kind to an embedder "
                "(or use tracker.kind bytetrack_iou)"
            )
        for name in ("detector", "pose"):
            if getattr(self, name).backend == "onnxruntime" and self.device != "cpu":
                raise ValueError(f"{name}.backend onnxruntime runs on the CPU only (device is {self.device})")
        if self.pose.kind == "ultralytics" and self.detector.kind != "ultralytics":
            raise ValueError("pose.kind ultralytics needs detector.kind ultralytics with a YOLO-pose model")


def describe_models(config: PipelineConfig) -> str:
    """One line naming the models a config runs, e.g. ``detector yolox (yolox_nano_coco, 608x1088), ...``."""
    det = config.detector
    size = f", {det.input_size[0]}x{det.input_size[1]}" if det.input_size else ""
    size += f", {det.backend}" if det.backend != "torch" else ""
    pose_backend = f", {config.pose.backend}" if config.pose.backend != "torch" else ""
    parts = [
        f"detector {det.kind} ({det.weights}{size})",
        f"pose {config.pose.kind} ({config.pose.weights}{pose_backend})",
        f"reid {config.reid.kind}" + (f" ({config.reid.weights})" if config.reid.kind != "none" else ""),
        f"tracker {config.tracker.kind}",
    ]
    return ", ".join(parts)


def configs_dir() -> Path:
    """The repository's ``configs/`` folder."""
    return Path(__file__).resolve().parent.parent / "configs"


SECTIONS = ("detector", "pose", "reid", "tracker", "output")


def _expand_sections(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Replace sections given as a file name (``detector: detector/yolox_x_mmdet.yaml``) by its content.

    Files are looked up next to the config, then in ``configs/``. A tracker file holds the variant's
    parameters and names the variant by its file name (``tracker/kprtrack.yaml`` -> ``kind: kprtrack``).
    """
    out = dict(data)
    for section in SECTIONS:
        ref = out.get(section)
        if not isinstance(ref, str):
            continue
        candidates = [base / ref, configs_dir() / ref]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ConfigError(f"{section}: sub-config {ref!r} not found (looked in {base} and {configs_dir()})")
        content = load_yaml(found)
        out[section] = {"kind": found.stem, "params": content} if section == "tracker" else content
    return out


def load_pipeline_config(path: str | Path | None = None, overrides: list[str] | None = None) -> PipelineConfig:
    """Load a pipeline config.

    Args:
        path: a YAML file, the name of a file in ``configs/`` (``demo`` -> ``configs/demo.yaml``), or
            ``None`` for the defaults.
        overrides: ``key.sub=value`` strings (``--set``).

    Raises:
        ConfigError: unknown key or kind, wrong type, missing file; the message names the key and file.
    """
    from kprtrack.registry import check_kinds

    data: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        p = Path(path)
        if not p.is_file() and (configs_dir() / f"{path}.yaml").is_file():
            p = configs_dir() / f"{path}.yaml"
        data = _expand_sections(load_yaml(p), p.parent)
        where = str(p)
    if overrides:
        data = apply_overrides(data, overrides)
        where += " + --set"
    try:
        config = dataclass_from_dict(PipelineConfig, data, where)
        check_kinds(config)
    except ConfigError as exc:
        if str(exc).startswith(where):
            raise
        raise ConfigError(f"{where}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return config
