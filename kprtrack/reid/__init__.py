"""Keypoint Promptable Re-Identification (KPR): model, checkpoint loading, embedder and distance."""
