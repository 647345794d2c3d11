"""A synthetic multi-person world with PoseTrack21 ground truth, instance masks and part maps.

Real data sets and pretrained weights are not available everywhere, so kprtrack generates its own
videos. The world reproduces the problem KPR addresses: several people inside one box, front/back
occlusion, teammates in the same kit, people leaving the view and coming back.

Modules, one job each:

* :mod:`~kprtrack.synth.config`: :class:`SynthConfig` (defaults = ``val`` preset) and the presets;
* :mod:`~kprtrack.synth.identities`: identities, builds, kits, teams;
* :mod:`~kprtrack.synth.skeleton`: the articulated body, gait and poses, projection;
* :mod:`~kprtrack.synth.motion`: trajectories, companions, re-entries, occlusion steering;
* :mod:`~kprtrack.synth.camera` / :mod:`~kprtrack.synth.scene`: layout, camera path, backgrounds,
  crowd zones, illumination/blur/noise;
* :mod:`~kprtrack.synth.render`: drawing bodies with depth order into image, instance and part maps;
* :mod:`~kprtrack.synth.groundtruth`: keypoints with visibility, boxes, head boxes;
* :mod:`~kprtrack.synth.generate`: one sequence, frame by frame;
* :mod:`~kprtrack.synth.writer` / :mod:`~kprtrack.synth.dataset`: the output tree and its reader;
* :mod:`~kprtrack.synth.stats`: the difficulty report;
* :mod:`~kprtrack.synth.parts`: the KPR ``eight`` part labels.

Command line: ``kprtrack synth --preset tiny|val|train --out DIR`` and ``kprtrack synth --stats DIR``.
"""

from __future__ import annotations

from kprtrack.synth.config import PRESETS, SplitSpec, SynthConfig, make_config

__all__ = ["PRESETS", "SplitSpec", "SynthConfig", "make_config"]
