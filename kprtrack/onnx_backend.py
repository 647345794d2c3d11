"""The optional ``onnxruntime`` backend: a torch network exported to ONNX once and run by ONNX Runtime.

On a CPU, ONNX Runtime runs the convolutional stages (YOLOX, HRNet, PP-TinyPose) two to four times
faster than eager torch on one thread (it keeps activations in a blocked layout between layers and
fuses BatchNorm and activations into the convolutions; see README, "Speed and memory"). Outputs
equal torch's to float32 rounding (about 1e-6). The KPR Swin encoder (2x slower in ONNX Runtime) and the OMZ re-id
network (no faster) stay in torch.

Needs the optional extra ``pip install 'kprtrack[onnxruntime]'`` (``onnxruntime`` to run, ``onnx``
for torch's exporter); nothing here is imported unless a config asks for ``backend: onnxruntime``.
The export happens in memory when the stage is built (about a second for the small networks).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from kprtrack.config import ConfigError

#: ONNX opset of the export (every operator of the exported networks exists in it).
OPSET = 17


class _Method(nn.Module):
    """Exposes ``module.<method>`` as ``forward`` (e.g. YOLOX's ``forward_levels``), for the export."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module = module
        self.method = method

    def forward(self, x: torch.Tensor) -> Any:
        return getattr(self.module, self.method)(x)


def _import_onnxruntime() -> Any:
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(
            f"backend onnxruntime needs the optional packages onnxruntime and onnx ({exc}); "
            "install them with: pip install 'kprtrack[onnxruntime]' (or use backend: torch)"
        ) from exc
    return onnxruntime


class OnnxRuntimeNetwork:
    """A network exported to ONNX (in memory) and run by ONNX Runtime on the CPU, called like the network.

    Args:
        module: the torch network, float32 on the CPU (put in eval mode here).
        example: an example input ``(B, C, H, W)``, traced once for the export.
        method: the module's method to export (``forward`` by default).
        dynamic_size: let the input's height and width vary too (the batch size always may).
        threads: ONNX Runtime intra-op threads; ``None``: torch's current number of threads.

    Raises:
        ConfigError: onnxruntime or onnx is not installed, or the export failed (naming the network).
    """

    def __init__(
        self,
        module: nn.Module,
        example: torch.Tensor,
        method: str = "forward",
        dynamic_size: bool = False,
        threads: int | None = None,
    ) -> None:
        ort = _import_onnxruntime()
        module = module.eval()
        if example.device.type != "cpu" or any(p.device.type != "cpu" for p in module.parameters()):
            raise ConfigError("backend onnxruntime runs on the CPU only (use device: cpu or backend: torch)")
        net = module if method == "forward" else _Method(module, method)
        axes = {0: "batch", 2: "height", 3: "width"} if dynamic_size else {0: "batch"}
        with torch.no_grad():
            reference = net(example)
        self.returns_list = isinstance(reference, (list, tuple))
        outputs = [f"output{i}" for i in range(len(reference))] if self.returns_list else ["output0"]
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings():  # the exporter's tracer and deprecation notices, this call only
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    net,
                    (example,),
                    buffer,
                    input_names=["input"],
                    output_names=outputs,
                    dynamic_axes={"input": axes, **{name: {0: "batch"} for name in outputs}},
                    opset_version=OPSET,
                    dynamo=False,
                )
        except Exception as exc:  # noqa: BLE001  (any exporter failure becomes one clear message)
            raise ConfigError(f"backend onnxruntime: exporting {type(module).__name__} to ONNX failed: {exc}") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads() if threads is None else threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait on shared cores
        self.session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        self.name = type(module).__name__

    def __call__(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """Run the network: ``x (B, C, H, W)`` float32 -> the torch module's output (a tensor or a list)."""
        feed = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        outs: Sequence[np.ndarray] = self.session.run(None, {"input": feed})
        tensors = [torch.from_numpy(o) for o in outs]
        return tensors if self.returns_list else tensors[0]

