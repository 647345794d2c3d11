"""The KPR model, assembled from a prompt encoder, an image encoder and a part head.

Like segment-anything, the model receives its three components; :mod:`kprtrack.reid.build` holds
one build function per variant. Forward:

``images -> patch tokens (+ prompt tokens) (+ camera embedding) -> Swin stages -> part head``.
"""

from __future__ import annotations

import torch
from torch import nn

from kprtrack.reid.config import KPRConfig
from kprtrack.reid.head import KPRHead, KPROutput
from kprtrack.reid.prompts import PromptEncoder
from kprtrack.reid.swin import SwinEncoder


class KPR(nn.Module):
    """Keypoint Promptable Re-Identification model.

    Args:
        prompt_encoder: tokenises the prompt heatmaps (unused when ``config.masks_prompting`` is off).
        image_encoder: the Swin image encoder.
        head: the part head.
        config: the architecture description (kept for preprocessing and checkpoint writing).

    Training mode returns the identity logits, pixel logits and embeddings a GiLt loss needs
    (see :class:`kprtrack.reid.head.KPROutput`); eval mode returns the same structure with
    binary visibility and the test descriptor.
    """

    def __init__(
        self,
        prompt_encoder: PromptEncoder,
        image_encoder: SwinEncoder,
        head: KPRHead,
        config: KPRConfig,
    ) -> None:
        super().__init__()
        self.config = config
        self.prompt_encoder = prompt_encoder
        self.image_encoder = image_encoder
        self.head = head

    @property
    def num_parts(self) -> int:
        """K."""
        return self.config.num_parts

    def forward(
        self,
        images: torch.Tensor,
        prompt_masks: torch.Tensor | None = None,
        cam_labels: torch.Tensor | None = None,
        semantic_weight: float | None = None,
    ) -> KPROutput:
        """Run the model.

        Args:
            images: ``(N, 3, H, W)`` normalised RGB images (see :func:`kprtrack.reid.embedder.normalize_crops`).
            prompt_masks: ``(N, C, H, W)`` prompt heatmaps (:func:`kprtrack.reid.prompts.build_prompt_masks`)
                or ``None`` for the prompt-optional mode (background-only prompt).
            cam_labels: ``(N,)`` camera indices for the side-information embedding (ignored if the
                model has none).
            semantic_weight: override of the SOLIDER semantic weight.

        Returns:
            A :class:`KPROutput`.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images: expected shape (N, 3, H, W), got {tuple(images.shape)}")
        tokens, hw = self.image_encoder.embed(images)
        if self.config.masks_prompting:
            tokens = tokens + self.prompt_encoder(prompt_masks, images.shape[0], tuple(images.shape[2:]), tokens)
        tokens = self.image_encoder.add_camera(tokens, cam_labels)
        stages = self.image_encoder(tokens, hw, semantic_weight)
        return self.head(stages)


def build_kpr_model(config: KPRConfig) -> KPR:
    """Build a randomly initialised :class:`KPR` for ``config``."""
    # the reference always holds the prompt embedding, even with prompting disabled
    prompt_encoder = PromptEncoder(
        config.prompt_channels, config.swin.embed_dim, config.swin.patch_size, config.background_token
    )
    image_encoder = SwinEncoder(config.swin, num_cameras=config.num_cameras, sie_coe=config.sie_coe)
    head = KPRHead(
        config.swin.num_features,
        config.num_parts,
        config.dim_reduce_output,
        config.num_classes,
        enable_msf=config.enable_msf,
        pooling=config.pooling,
        training_binary_visibility=config.training_binary_visibility,
        testing_binary_visibility=config.testing_binary_visibility,
        test_embeddings=config.test_embeddings,
    )
    return KPR(prompt_encoder, image_encoder, head, config)
