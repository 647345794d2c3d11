"""Re-identification: KPR (model, checkpoint loading, embedder, distance) and the ported OMZ global models.

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
    "cosine_to_tracking_distance": "kprtrack.reid.distance",
    "tracking_to_cosine_distance": "kprtrack.reid.distance",
    "OMZReidNet": "kprtrack.reid.omz",
    "OMZ_REID_REGISTRY": "kprtrack.reid.omz",
    "build_omz_reid": "kprtrack.reid.omz",
    "load_omz_reid": "kprtrack.reid.omz",
    "OMZReidEmbedder": "kprtrack.reid.omz_embedder",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("kprtrack.reid", _EXPORTS)
