"""Training KPR (see docs/training.md).

* :mod:`~kprtrack.reid.train.occ_ptrack`: the Occluded-PoseTrack-ReID builder (protocol, MPOL);
* :mod:`~kprtrack.reid.train.data`: ReID crop records, augmentation, seeded PK batches;
* :mod:`~kprtrack.reid.train.losses`: GiLt (identity CE + part-based batch-hard triplet) and part prediction;
* :mod:`~kprtrack.reid.train.bipo`: batch-wise inter-person occlusion;
* :mod:`~kprtrack.reid.train.config`: :class:`KPRTrainConfig`, every setting (``configs/train/kpr.yaml``);
* :mod:`~kprtrack.reid.train.trainer`: :class:`KPRTrainer` (loop, checkpoints, resume, logs);
* :mod:`~kprtrack.reid.train.evaluate`: Rank-1 / mAP with and without prompts.
"""
