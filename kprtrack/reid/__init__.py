"""Keypoint Promptable Re-Identification (KPR): model, checkpoint loading, embedder and distance.

The public names below are imported lazily, so ``import kprtrack.reid.distance`` stays light.
"""

from __future__ import annotations

from kprtrack.lazy import lazy_getattr

_EXPORTS = {
    "KPR": "kprtrack.reid.model",
    "KPRConfig": "kprtrack.reid.config",
    "SwinConfig": "kprtrack.reid.config",
    "KPROutput": "kprtrack.reid.head",
    "KPR_REGISTRY": "kprtrack.reid.build",
    "build_kpr": "kprtrack.reid.build",
    "kpr_config": "kprtrack.reid.build",
    "build_prompt_masks": "kprtrack.reid.prompts",
    "load_kpr_checkpoint": "kprtrack.reid.checkpoint",
    "save_kpr_checkpoint": "kprtrack.reid.checkpoint",
    "KPREmbedder": "kprtrack.reid.embedder",
    "EmbedOutput": "kprtrack.reid.embedder",
    "select_negatives": "kprtrack.reid.embedder",
    "part_based_distance": "kprtrack.reid.distance",
    "tracking_distance": "kprtrack.reid.distance",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("kprtrack.reid", _EXPORTS)
