"""Embedder builders registered with :data:`kprtrack.registry.EMBEDDERS` (heavy imports inside each builder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kprtrack.errors import naming_checkpoint
from kprtrack.registry import BuildContext, register_embedder
from kprtrack.weights import checkpoint_path, random_variant

if TYPE_CHECKING:
    from kprtrack.pipeline_config import ReidSection
    from kprtrack.stages import Embedder


@register_embedder("kpr")
def build_kpr_embedder(section: ReidSection, context: BuildContext) -> Embedder:
    """KPR from a released-format checkpoint, or a random variant (``weights: random:kpr_swin_base_k8``)."""
    from kprtrack.reid.embedder import KPREmbedder

    options = {
        "device": context.config.device,
        "dtype": context.config.dtype,
        "use_prompts": section.use_prompts,
        "max_batch": section.batch_size,
        "keypoint_format": context.keypoint_format,
        "prompt_threshold": section.prompt_threshold,
    }
    variant = random_variant(section.weights)
    if variant is not None:
        from kprtrack.reid.build import build_kpr

        return KPREmbedder(build_kpr(variant), **options)
    path = checkpoint_path(section.weights)
    with naming_checkpoint(path, "reid.weights"):
        return KPREmbedder.from_checkpoint(path, **options)


@register_embedder("none")
def build_no_embedder(section: ReidSection, context: BuildContext) -> None:
    """No appearance model (for trackers that need none, e.g. ``bytetrack_iou``)."""
    return None


@register_embedder("omz")
def build_omz_embedder(section: ReidSection, context: BuildContext) -> Embedder:
    """A global appearance embedding (Intel OMZ person-reidentification-retail-0288/0287 port) as one part.

    The tracker's part distance then becomes ``sqrt(cosine distance / 2)``; prompts are not used.
    """
    from kprtrack.reid.omz_embedder import OMZReidEmbedder

    return OMZReidEmbedder.from_checkpoint(
        checkpoint_path(section.weights),
        device=context.config.device,
        dtype=context.config.dtype,
        max_batch=section.batch_size,
        keypoint_format=context.keypoint_format,
    )
