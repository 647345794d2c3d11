"""PoseTrack21 evaluation: keypoint HOTA identical to the official kit, pose CLEAR-MOT, box metrics.

Entry point: :func:`kprtrack.eval.evaluate.evaluate_folders` (also ``kprtrack eval`` and
``tools/eval_posetrack21.py``). See docs/eval.md for the exact definitions.
"""
