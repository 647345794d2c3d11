"""The KPR part head: multi-stage fusion, pixel part classifier, part pooling, embeddings, visibility.

Reference: ``models/kpr.py``. From the stage feature maps the head

1. fuses them (MSF: stages 1-3 resized bilinearly, align_corners=True, to the stage-0 size,
   concatenated, ``1x1 conv -> BatchNorm2d -> ReLU`` to the last stage's width);
2. classifies every pixel into background + K parts (``BatchNorm2d -> 1x1 conv``); the softmax
   over the K + 1 channels is the part attention;
3. pools: global = plain average; foreground (mask = max over the K part probabilities) and
   background = average of mask * features; parts = weighted average ``sum(m f) / max(sum(m), 1e-6)``
   (``gwap``);
4. reduces each pooled vector (``Linear -> BatchNorm1d -> ReLU``) to D and applies the BNNeck
   identity classifiers (``BatchNorm1d -> Linear``);
5. visibility: binary at test time (part k is visible iff it wins the argmax of at least one pixel;
   the foreground entry is always visible).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    """``1x1 conv -> BatchNorm2d -> ReLU`` (reference ``BeforePoolingDimReduceLayer``)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(in_dim, out_dim, 1), nn.BatchNorm2d(out_dim), nn.ReLU(inplace=True))
        nn.init.kaiming_normal_(self.layers[0].weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.layers[0].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LinearBNReLU(nn.Module):
    """``Linear -> BatchNorm1d -> ReLU`` applied to ``(N, in)`` or ``(N, K, in)`` (``AfterPoolingDimReduceLayer``)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim), nn.ReLU(inplace=True))
        nn.init.normal_(self.layers[0].weight, 0, 0.01)
        nn.init.zeros_(self.layers[0].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            n, k, _ = x.shape
            return self.layers(x.flatten(0, 1)).view(n, k, -1)
        return self.layers(x)


class MultiStageFusion(nn.Module):
    """Resize every stage to the first stage's size, concatenate, fuse with :class:`ConvBNReLU`."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.dim_reduce = ConvBNReLU(in_dim, out_dim)

    def forward(self, stages: list[torch.Tensor]) -> torch.Tensor:
        size = stages[0].shape[2:]
        maps = [stages[0]] + [F.interpolate(s, size=size, mode="bilinear", align_corners=True) for s in stages[1:]]
        return self.dim_reduce(torch.cat(maps, dim=1))


class PixelToPartClassifier(nn.Module):
    """``BatchNorm2d -> 1x1 conv`` to K + 1 logits (channel 0 = background)."""

    def __init__(self, dim: int, num_parts: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(dim)
        self.classifier = nn.Conv2d(dim, num_parts + 1, 1)
        nn.init.normal_(self.classifier.weight, 0, 0.001)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.bn(x))


class BNClassifier(nn.Module):
    """BNNeck: ``BatchNorm1d`` (bias frozen) then a bias-free identity classifier."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, 0, 0.001)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the BN features and the class logits."""
        feat = self.bn(x)
        return feat, self.classifier(feat)


@dataclass
class KPROutput:
    """Everything one KPR forward produces. ``N`` samples, ``K`` parts, ``D`` embedding size.

    Attributes:
        embeddings: ``globl``, ``foreg``, ``backg`` ``(N, D)``, ``conct`` ``(N, K*D)``,
            ``parts`` ``(N, K, D)`` and their BNNeck versions ``bn_*``.
        visibility: ``globl``, ``foreg``, ``backg``, ``conct`` ``(N,)`` and ``parts`` ``(N, K)``
            (bool when binary, else float).
        id_logits: identity-classifier logits ``globl``, ``foreg``, ``backg``, ``conct``
            ``(N, num_classes)`` and ``parts`` ``(N, K, num_classes)``.
        pixel_logits: ``(N, K + 1, h, w)`` pixel part classifier output (channel 0 = background).
        part_attention: ``(N, K + 1, h, w)`` softmax of ``pixel_logits`` over channels.
        masks: pooling masks: ``globl``, ``foreg``, ``backg``, ``conct`` ``(N, h, w)``, ``parts`` ``(N, K, h, w)``.
        spatial_features: ``(N, C, h, w)`` fused feature map the head pools.
        stage_features: the image encoder's stage outputs.
        test_embeddings: ``(N, P, D)`` descriptor used at test time (not L2-normalised).
        test_visibility: ``(N, P)`` its visibility.
        test_masks: ``(N, P, h, w)`` the mask of each descriptor entry.
    """

    embeddings: dict[str, torch.Tensor]
    visibility: dict[str, torch.Tensor]
    id_logits: dict[str, torch.Tensor]
    pixel_logits: torch.Tensor
    part_attention: torch.Tensor
    masks: dict[str, torch.Tensor]
    spatial_features: torch.Tensor
    stage_features: list[torch.Tensor] = field(default_factory=list)
    test_embeddings: torch.Tensor | None = None
    test_visibility: torch.Tensor | None = None
    test_masks: torch.Tensor | None = None


class KPRHead(nn.Module):
    """From stage feature maps to part embeddings, visibility and identity logits.

    Args:
        stage_dims: channels of each stage output.
        num_parts: K.
        dim: embedding size D.
        num_classes: training identities.
        enable_msf: fuse all stages (else use the last stage).
        pooling: ``gwap``, ``gap`` or ``gmp`` for the parts.
        training_binary_visibility: binary visibility in training mode.
        testing_binary_visibility: binary visibility in eval mode.
        test_embeddings: names concatenated into the test descriptor.
    """

    def __init__(
        self,
        stage_dims: tuple[int, ...],
        num_parts: int,
        dim: int,
        num_classes: int,
        enable_msf: bool = True,
        pooling: str = "gwap",
        training_binary_visibility: bool = True,
        testing_binary_visibility: bool = True,
        test_embeddings: tuple[str, ...] = ("bn_foreg", "parts"),
    ) -> None:
        super().__init__()
        self.num_parts = num_parts
        self.pooling = pooling
        self.training_binary_visibility = training_binary_visibility
        self.testing_binary_visibility = testing_binary_visibility
        self.test_embedding_names = tuple(test_embeddings)
        feat_dim = stage_dims[-1]
        # registration order = the reference state-dict order
        self.msf = MultiStageFusion(sum(stage_dims), feat_dim) if enable_msf else None
        self.global_after_pooling_dim_reduce = LinearBNReLU(feat_dim, dim)
        self.foreground_after_pooling_dim_reduce = LinearBNReLU(feat_dim, dim)
        self.background_after_pooling_dim_reduce = LinearBNReLU(feat_dim, dim)
        self.parts_after_pooling_dim_reduce = LinearBNReLU(feat_dim, dim)
        self.pixel_classifier = PixelToPartClassifier(feat_dim, num_parts)
        self.global_identity_classifier = BNClassifier(dim, num_classes)
        self.background_identity_classifier = BNClassifier(dim, num_classes)
        self.foreground_identity_classifier = BNClassifier(dim, num_classes)
        self.concat_parts_identity_classifier = BNClassifier(num_parts * dim, num_classes)
        self.parts_identity_classifier = nn.ModuleList(BNClassifier(dim, num_classes) for _ in range(num_parts))

    def _pool_parts(self, features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``(N, C, h, w)`` features, ``(N, K, h, w)`` masks -> ``(N, K, C)``."""
        if self.pooling == "gmp":
            return (masks.unsqueeze(2) * features.unsqueeze(1)).amax(dim=(-2, -1))
        weighted = torch.bmm(masks.flatten(2), features.flatten(2).transpose(1, 2))  # (N, K, C)
        if self.pooling == "gap":
            return weighted / (features.shape[2] * features.shape[3])
        return weighted / masks.sum(dim=(-2, -1)).clamp(min=1e-6).unsqueeze(-1)

    def forward(self, stages: list[torch.Tensor]) -> KPROutput:
        """Args: stages: the encoder's ``(N, C_s, h_s, w_s)`` maps. Returns a :class:`KPROutput`."""
        features = self.msf(stages) if self.msf is not None else stages[-1]
        n = features.shape[0]
        pixel_logits = self.pixel_classifier(features)
        probs = F.softmax(pixel_logits, dim=1)
        background_masks = probs[:, 0]
        parts_masks = probs[:, 1:]
        foreground_masks = parts_masks.max(dim=1)[0]

        binary = self.training_binary_visibility if self.training else self.testing_binary_visibility
        if binary:
            winner = probs.argmax(dim=1).flatten(1)  # (N, h*w)
            vis = torch.zeros((n, self.num_parts + 1), dtype=torch.bool, device=features.device)
            vis.scatter_(1, winner, True)
        else:
            vis = probs.amax(dim=(2, 3))
        foreground_vis = vis.amax(dim=1)
        visibility = {
            "globl": torch.ones_like(foreground_vis),
            "foreg": foreground_vis,
            "backg": vis[:, 0],
            "conct": foreground_vis,
            "parts": vis[:, 1:],
        }

        global_emb = features.mean(dim=(2, 3))
        hw = features.shape[2] * features.shape[3]
        pooled = torch.bmm(
            torch.stack([foreground_masks, background_masks], dim=1).flatten(2), features.flatten(2).transpose(1, 2)
        ) / float(hw)
        parts_emb = self._pool_parts(features, parts_masks)

        emb = {
            "globl": self.global_after_pooling_dim_reduce(global_emb),
            "foreg": self.foreground_after_pooling_dim_reduce(pooled[:, 0]),
            "backg": self.background_after_pooling_dim_reduce(pooled[:, 1]),
            "parts": self.parts_after_pooling_dim_reduce(parts_emb),
        }
        emb["conct"] = emb["parts"].flatten(1, 2)
        logits = {}
        for name, clf in (
            ("globl", self.global_identity_classifier),
            ("backg", self.background_identity_classifier),
            ("foreg", self.foreground_identity_classifier),
            ("conct", self.concat_parts_identity_classifier),
        ):
            emb["bn_" + name], logits[name] = clf(emb[name])
        bn_parts, part_logits = [], []
        for k, clf in enumerate(self.parts_identity_classifier):
            f, s = clf(emb["parts"][:, k])
            bn_parts.append(f)
            part_logits.append(s)
        emb["bn_parts"] = torch.stack(bn_parts, dim=1)
        logits["parts"] = torch.stack(part_logits, dim=1)

        masks = {
            "globl": torch.ones_like(foreground_masks),
            "backg": background_masks,
            "foreg": foreground_masks,
            "conct": foreground_masks,
            "parts": parts_masks,
        }
        out = KPROutput(
            embeddings=emb,
            visibility=visibility,
            id_logits=logits,
            pixel_logits=pixel_logits,
            part_attention=probs,
            masks=masks,
            spatial_features=features,
            stage_features=list(stages),
        )
        self._add_test_outputs(out)
        return out

    def _add_test_outputs(self, out: KPROutput) -> None:
        embs, vis, masks = [], [], []
        for name in self.test_embedding_names:
            base = name[3:] if name.startswith("bn_") else name
            e = out.embeddings[name]
            embs.append(e if e.ndim == 3 else e.unsqueeze(1))
            v = out.visibility[base]
            vis.append(v if v.ndim == 2 else v.unsqueeze(1))
            m = out.masks[base]
            masks.append(m if m.ndim == 4 else m.unsqueeze(1))
        out.test_embeddings = torch.cat(embs, dim=1)
        out.test_visibility = torch.cat(vis, dim=1)
        out.test_masks = torch.cat(masks, dim=1)
