"""One registry per pipeline stage: how a config's ``kind`` becomes a stage object.

A backend registers a *builder* for its kind with a decorator, in a light module of its package
(``kprtrack/<stage>/builders.py``: no torch or cv2 at module level, the heavy imports happen inside
the builder)::

    @register_detector("yolox")
    def build_yolox_detector(section: DetectorSection, context: BuildContext) -> Detector:
        ...

:func:`kprtrack.assembly.build_pipeline` looks every stage's kind up here. A registry imports its
plugin modules (the ``builders`` modules listed below) the first time it is asked for a kind, so
adding a model to an existing package means adding one decorated function, and adding a package
means adding its builders module to :data:`PLUGINS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kprtrack.config import ConfigError

if TYPE_CHECKING:
    from kprtrack.pipeline_config import PipelineConfig

B = TypeVar("B", bound=Callable[..., Any])

#: stage name -> modules whose import registers that stage's builders.
PLUGINS: dict[str, tuple[str, ...]] = {
    "detector": ("kprtrack.detect.builders", "kprtrack.oracle"),
    "pose": ("kprtrack.pose.builders", "kprtrack.oracle"),
    "reid": ("kprtrack.reid.builders",),
    "tracker": ("kprtrack.track.builders",),
}


@dataclass
class BuildContext:
    """What every builder may use besides its own config section.

    Attributes:
        config: the whole pipeline configuration (device, dtype, the other sections).
        frame_rate: frames per second of the video (trackers scale their buffers with it).
        gt_path: ground truth of the sequence, for oracle stages.
        keypoint_format: keypoint convention of the pose stage's output, what an embedder receives as
            prompts (:func:`kprtrack.assembly.build_pipeline` sets it once the pose stage is built).
        shared: objects built once and used by several stages (e.g. one ultralytics model that gives
            boxes and keypoints); see :meth:`shared_object`.
    """

    config: PipelineConfig
    frame_rate: float = 30.0
    gt_path: str | Path | None = None
    keypoint_format: str = "coco17"
    shared: dict[str, Any] = field(default_factory=dict)

    def shared_object(self, key: str, make: Callable[[], Any]) -> Any:
        """The object stored under ``key``, made by ``make()`` on first use."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]


class Registry(Generic[B]):
    """Named builders of one stage.

    Args:
        stage: the config section it serves (``detector``, ``pose``, ``reid``, ``tracker``).
        plugins: modules imported on first lookup; importing them registers their builders.
    """

    def __init__(self, stage: str, plugins: Iterable[str] = ()) -> None:
        self.stage = stage
        self.plugins = tuple(plugins)
        self._builders: dict[str, B] = {}
        self._loaded = False

    def register(self, kind: str) -> Callable[[B], B]:
        """Decorator registering a builder for ``kind``.

        Raises:
            ValueError: if ``kind`` is already registered (two backends would shadow each other).
        """

        def decorator(builder: B) -> B:
            if kind in self._builders and self._builders[kind] is not builder:
                raise ValueError(f"{self.stage} kind {kind!r} is already registered by {self._builders[kind]}")
            self._builders[kind] = builder
            return builder

        return decorator

    def _load_plugins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.plugins:
                importlib.import_module(module)

    def kinds(self) -> tuple[str, ...]:
        """Every registered kind, sorted."""
        self._load_plugins()
        return tuple(sorted(self._builders))

    def get(self, kind: str) -> B:
        """The builder of ``kind``.

        Raises:
            ConfigError: naming the section, the unknown kind and the known ones.
        """
        self._load_plugins()
        if kind not in self._builders:
            raise ConfigError(f"{self.stage}.kind: {kind!r} is not one of {', '.join(self.kinds())}")
        return self._builders[kind]


DETECTORS: Registry[Callable[..., Any]] = Registry("detector", PLUGINS["detector"])
POSE_ESTIMATORS: Registry[Callable[..., Any]] = Registry("pose", PLUGINS["pose"])
EMBEDDERS: Registry[Callable[..., Any]] = Registry("reid", PLUGINS["reid"])
TRACKERS: Registry[Callable[..., Any]] = Registry("tracker", PLUGINS["tracker"])

register_detector = DETECTORS.register
register_pose = POSE_ESTIMATORS.register
register_embedder = EMBEDDERS.register
register_tracker = TRACKERS.register

#: config section -> its registry.
REGISTRIES: dict[str, Registry[Callable[..., Any]]] = {
    "detector": DETECTORS,
    "pose": POSE_ESTIMATORS,
    "reid": EMBEDDERS,
    "tracker": TRACKERS,
}


def check_kinds(config: PipelineConfig) -> None:
    """Raise :class:`ConfigError` if a section of ``config`` names a kind no backend registered."""
    for section, registry in REGISTRIES.items():
        registry.get(getattr(config, section).kind)
