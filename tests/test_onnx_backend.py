"""The ``torch_fused`` and optional ``onnxruntime`` backends of the detector and pose stages: torch's outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kprtrack.config import ConfigError
from kprtrack.pipeline_config import load_pipeline_config


def _needs_onnxruntime() -> None:
    pytest.importorskip("onnxruntime", reason="the onnxruntime backend is an optional extra (kprtrack[onnxruntime])")
    pytest.importorskip("onnx", reason="torch's ONNX exporter needs the onnx package (kprtrack[onnxruntime])")


def test_backend_values_are_checked_when_the_config_loads():
    with pytest.raises(ConfigError, match="detector.backend: 'tensorrt' is not one of torch, torch_fused, onnxruntime"):
        load_pipeline_config("demo", ["detector.backend=tensorrt"])
    with pytest.raises(ConfigError, match="pose.backend onnxruntime runs on the CPU only"):
        load_pipeline_config("demo", ["pose.backend=onnxruntime", "device=cuda"])


def test_a_kind_without_the_backend_is_a_config_error():
    from kprtrack.assembly import _check_backend

    config = load_pipeline_config("demo", ["pose.backend=onnxruntime"])

    class TorchOnlyPose:
        keypoint_format = "coco17"

    with pytest.raises(ConfigError, match="pose.backend: pose.kind hrnet does not support 'onnxruntime'"):
        _check_backend(TorchOnlyPose(), "pose", config)


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    from kprtrack.onnx_backend import OnnxRuntimeNetwork

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"pip install 'kprtrack\[onnxruntime\]'"):
        OnnxRuntimeNetwork(torch.nn.Conv2d(3, 4, 3), torch.zeros(1, 3, 8, 8))


def test_network_outputs_equal_torch_for_any_batch():
    _needs_onnxruntime()
    from kprtrack.onnx_backend import OnnxRuntimeNetwork
    from kprtrack.pose.tinypose import build_tinypose_128x96

    torch.manual_seed(0)
    net = build_tinypose_128x96().eval()
    runner = OnnxRuntimeNetwork(net, torch.zeros(1, 3, 128, 96))
    for batch in (1, 3):
        x = torch.randn(batch, 3, 128, 96)
        with torch.inference_mode():
            expected = net(x)
        np.testing.assert_allclose(runner(x).numpy(), expected.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("backend", ["torch_fused", "onnxruntime"])
def test_demo_pipeline_with_a_fast_backend_matches_torch(backend: str, tmp_path: Path):
    if backend == "onnxruntime":
        _needs_onnxruntime()
    from kprtrack.pipeline import Pipeline
    from kprtrack.synth.config import make_config
    from kprtrack.synth.writer import write_dataset

    write_dataset(make_config("tiny", write_masks=False), tmp_path)
    seq = sorted((tmp_path / "images" / "val").iterdir())[0]
    runs = {}
    for name in ("torch", backend):
        pipe = Pipeline.from_config("demo", [f"detector.backend={name}", f"pose.backend={name}"], frame_rate=25.0)
        assert pipe.detector.backend == pipe.pose.backend == name
        runs[name] = list(pipe.track(seq, max_frames=8))
    assert sum(len(r) for r in runs["torch"]) > 0
    for ref, got in zip(runs["torch"], runs[backend]):
        np.testing.assert_allclose(got.boxes, ref.boxes, atol=1e-2)
        np.testing.assert_allclose(got.scores, ref.scores, atol=1e-4)
        np.testing.assert_allclose(got.keypoints, ref.keypoints, atol=0.1)
        np.testing.assert_array_equal(got.track_ids, ref.track_ids)
