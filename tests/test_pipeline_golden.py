"""The shipped demo pipeline gives the same outputs as the recorded reference (refactors must not change them).

The reference ``tests/data/demo_tiny_golden.json`` was written by ``python -m tests.golden_pipeline`` before the
one-registry-per-stage refactor; regenerate it only with a change that is meant to alter the outputs.
"""

import json
from pathlib import Path

import numpy as np

from tests.golden_pipeline import demo_outputs

GOLDEN = Path(__file__).parent / "data" / "demo_tiny_golden.json"


def test_demo_pipeline_outputs_equal_the_recorded_reference(tmp_path):
    expected = json.loads(GOLDEN.read_text())
    got = demo_outputs(tmp_path)
    assert got["sequence"] == expected["sequence"]
    assert len(got["frames"]) == len(expected["frames"])
    for t, (g, e) in enumerate(zip(got["frames"], expected["frames"])):
        assert g["track_ids"] == e["track_ids"], f"frame {t}"
        assert g["visibility"] == e["visibility"], f"frame {t}"
        for key, tol in (("boxes", 2e-3), ("scores", 2e-5), ("keypoints", 2e-3), ("embedding_sums", 2e-4)):
            np.testing.assert_allclose(np.array(g[key]), np.array(e[key]), atol=tol, err_msg=f"frame {t} {key}")
