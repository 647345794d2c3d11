"""Re-identification: KPR (model, checkpoint loading, embedder, distance) and the ported OMZ global models.

The public names below are imported lazily, so ``import kprtrack.reid.distance`` stays light.
"""

from __future__ import annotations

from kprtrack.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        ".model": ("KPR",),
        ".config": ("KPRConfig", "SwinConfig"),
        ".head": ("KPROutput",),
        ".build": ("KPR_REGISTRY", "build_kpr", "kpr_config"),
        ".prompts": ("build_prompt_masks",),
        ".checkpoint": ("load_kpr_checkpoint", "save_kpr_checkpoint"),
        ".embedder": ("KPREmbedder", "EmbedOutput", "select_negatives"),
        ".distance": (
            "part_based_distance",
            "tracking_distance",
            "cosine_to_tracking_distance",
            "tracking_to_cosine_distance",
        ),
        ".omz": ("OMZReidNet", "OMZ_REID_REGISTRY", "build_omz_reid", "load_omz_reid"),
        ".omz_embedder": ("OMZReidEmbedder",),
    },
)
