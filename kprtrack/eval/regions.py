"""Ignore-region geometry (shapely): the strict-interior point test and the box/region overlap."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon


def make_polygons(polygons: list[np.ndarray]) -> list[Polygon]:
    """Shapely polygons from (k, 2) vertex arrays (built like the kit: ``Polygon(zip(x, y))``)."""
    return [Polygon(p) for p in polygons]


def strictly_inside(points: np.ndarray, polygons: list[Polygon]) -> np.ndarray:
    """Which points lie in the strict interior of at least one polygon.

    Points exactly on an edge or a vertex are outside (``polygon.contains``, as the kit tests).

    Args:
        points: (..., 2) float64 ``x, y``.
        polygons: the frame's polygons.

    Returns:
        (...) bool.
    """
    shape = points.shape[:-1]
    flat = points.reshape(-1, 2)
    inside = np.zeros(flat.shape[0], bool)
    if flat.shape[0] == 0 or not polygons:
        return inside.reshape(shape)
    geoms = shapely.points(flat[:, 0], flat[:, 1])
    for poly in polygons:
        inside |= shapely.contains(poly, geoms)
    return inside.reshape(shape)


def region_box_iou(polygon: Polygon, box_xywh: np.ndarray) -> float:
    """Polygon/box IoU as the kit's MOT evaluation computes it.

    An invalid polygon is repaired with ``buffer(0)``; when that yields several parts, the
    intersections and the unions of the parts with the box are summed separately.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    box = Polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)])
    parts = [polygon]
    if not polygon.is_valid:
        fixed = polygon.buffer(0)
        parts = list(fixed.geoms) if isinstance(fixed, MultiPolygon) else [fixed]
    inter = sum(p.intersection(box).area for p in parts)
    union = sum(p.union(box).area for p in parts)
    return inter / union if union > 0 else 0.0
