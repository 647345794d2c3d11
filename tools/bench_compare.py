#!/usr/bin/env python
"""Side by side, in one process and one run: our parts against the systems users would pick instead.

1. **Association** (ms per frame, identical detections): our trackers (``bytetrack_iou``, and
   ``kprtrack`` on 9 part embeddings of 128 dims) against supervision's ``ByteTrack`` and BoxMOT's
   ``ByteTrack`` and ``BotSort`` (no camera-motion compensation; without appearance, and with the
   first part's embedding as BoT-SORT's appearance feature) on a synthetic crowd of 10, 30 and 100
   people (``tools/bench_tracker.py``'s scene: walking, occlusions, exits). IDF1 against the scene's
   identities shows that every tracker really tracks.
2. **Evaluation** (seconds on the same predictions): ``kprtrack eval``'s
   :func:`~kprtrack.eval.evaluate.evaluate_folders` (keypoint HOTA + pose CLEAR-MOT + box metrics)
   and its keypoint-HOTA part alone, against the official PoseTrack21 kit (anDoer/PoseTrack21
   ``eval/posetrack21``, ``HOTAeypoints``, serial), on ``tools/bench_eval.py``'s synthetic
   sequences. The HOTA both report is printed (they must agree).
3. **KPR encoder** (crops/s): our Swin image encoder against the reference implementation's SOLIDER
   Swin (the KPR authors' ``torchreid/models/solider/backbones/swin_transformer.py``, imported from a
   checkout, never shipped) loaded with the same random weights; the max output difference is
   printed (they must agree). Plus our whole embedder path (crop resize, prompts, forward).

The peers are optional (``pip install 'kprtrack[bench]'``: supervision, boxmot; the kit and the KPR
reference are folders given with ``--kit`` and ``--kpr-reference``); a missing one is reported and
skipped. BoxMOT is AGPL-3.0: it is imported by this script only, never by the package. Everything
runs on one CPU thread. Ratios are ``peer / ours`` (above 1: we are faster).

Usage::

    python tools/bench_compare.py --kit PoseTrack21/eval/posetrack21 \\
        --kpr-reference keypoint_promptable_reidentification
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread for numpy's BLAS too, before numpy loads

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_tracker import identity_metrics, synthetic_scene  # noqa: E402

from kprtrack.structures import FrameRecord  # noqa: E402
from kprtrack.track import ByteTrackIoU, ByteTrackIoUConfig, KPRTracker, KPRTrackerConfig  # noqa: E402


def _iou_rows(out: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """For each output box, the input row it overlaps most (``-1`` below IoU 0.5)."""
    if len(out) == 0 or len(boxes) == 0:
        return np.full(len(out), -1)
    x1 = np.maximum(out[:, None, 0], boxes[None, :, 0])
    y1 = np.maximum(out[:, None, 1], boxes[None, :, 1])
    x2 = np.minimum(out[:, None, 2], boxes[None, :, 2])
    y2 = np.minimum(out[:, None, 3], boxes[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    iou = inter / (area(out)[:, None] + area(boxes)[None, :] - inter)
    best = iou.argmax(axis=1)
    return np.where(iou.max(axis=1) >= 0.5, best, -1)


# ------------------------------------------------------------------------------------------------ trackers
def tracker_adapters() -> dict[str, tuple[Callable[[], Callable[[FrameRecord], np.ndarray]], str]]:
    """name -> (factory of a per-frame ``update(record) -> track id per row``, note); peers when installed."""
    adapters: dict[str, tuple[Callable[[], Callable[[FrameRecord], np.ndarray]], str]] = {}

    def ours(make: Callable[[], object]) -> Callable[[], Callable[[FrameRecord], np.ndarray]]:
        def factory() -> Callable[[FrameRecord], np.ndarray]:
            tracker = make()
            return lambda rec: tracker.update(rec).track_ids  # type: ignore[attr-defined]

        return factory

    adapters["kprtrack bytetrack_iou"] = (ours(lambda: ByteTrackIoU(ByteTrackIoUConfig())), "ours, IoU only")
    adapters["kprtrack kprtrack"] = (ours(lambda: KPRTracker(KPRTrackerConfig())), "ours, 9 parts x 128")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import supervision as sv

        def sv_factory() -> Callable[[FrameRecord], np.ndarray]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ByteTrack's deprecation notice (it moved to `trackers`)
                tracker = sv.ByteTrack(
                    track_activation_threshold=0.6,
                    lost_track_buffer=30,
                    minimum_matching_threshold=0.8,
                    frame_rate=30,
                    minimum_consecutive_frames=1,
                )

            def update(rec: FrameRecord) -> np.ndarray:
                det = sv.Detections(xyxy=np.asarray(rec.boxes), confidence=np.asarray(rec.scores),
                                    class_id=np.zeros(len(rec), int))  # fmt: skip
                out = tracker.update_with_detections(det)
                ids = np.full(len(rec), -1)
                rows = _iou_rows(out.xyxy, np.asarray(rec.boxes))
                ids[rows[rows >= 0]] = out.tracker_id[rows >= 0]
                return ids

            return update

        adapters[f"supervision {sv.__version__} ByteTrack"] = (sv_factory, "peer, IoU only")
    except ImportError as exc:
        print(f"(supervision not installed: {exc}; pip install 'kprtrack[bench]')")
    try:
        import boxmot
        import boxmot.structures as bs

        def boxmot_factory(name: str, appearance: bool) -> Callable[[], Callable[[FrameRecord], np.ndarray]]:
            def factory() -> Callable[[FrameRecord], np.ndarray]:
                if name == "ByteTrack":
                    tracker = boxmot.ByteTrack(min_conf=0.1, track_thresh=0.5, match_thresh=0.8, track_buffer=30)
                else:
                    tracker = boxmot.BotSort(
                        reid_weights=None,
                        use_embeddings=appearance,
                        use_cmc=False,
                        track_high_thresh=0.5,
                        track_low_thresh=0.1,
                        new_track_thresh=0.6,
                    )
                image = np.zeros((720, 1280, 3), np.uint8)

                def update(rec: FrameRecord) -> np.ndarray:
                    boxes, scores = np.array(rec.boxes, np.float32), np.array(rec.scores, np.float32)  # writable
                    ids = np.full(len(rec), -1)
                    if appearance:
                        det = bs.Detections(
                            geometry=bs.Boxes(torch.from_numpy(boxes)), scores=torch.from_numpy(scores),
                            class_ids=torch.zeros(len(rec), dtype=torch.long), sample_id=str(rec.frame_index),
                            embeddings=torch.from_numpy(np.ascontiguousarray(rec.embeddings[:, 0])),
                        )  # fmt: skip
                        out = tracker.update(det, image)
                        rows = out.detection_indices.numpy().astype(int)
                        ids[rows] = out.track_ids.numpy()
                        return ids
                    dets = np.concatenate([boxes, scores[:, None], np.zeros((len(rec), 1), np.float32)], axis=1)
                    out = tracker.update(dets, image)
                    if len(out):
                        ids[out[:, 7].astype(int)] = out[:, 4].astype(int)
                    return ids

                return update

            return factory

        version = boxmot.__version__
        adapters[f"boxmot {version} ByteTrack"] = (boxmot_factory("ByteTrack", False), "peer, IoU only")
        adapters[f"boxmot {version} BotSort"] = (boxmot_factory("BotSort", False), "peer, IoU, no CMC")
        adapters[f"boxmot {version} BotSort+app"] = (boxmot_factory("BotSort", True), "peer, IoU + 128-d")
    except ImportError as exc:
        print(f"(boxmot not installed: {exc}; pip install 'kprtrack[bench]')")
    return adapters


def bench_association(people_counts: list[int], frames: int) -> None:
    import logging

    logging.disable(logging.INFO)  # boxmot logs its settings at construction
    print("\n## 1. Association: ms per frame on identical detections (1 thread)")
    adapters = tracker_adapters()
    results: dict[int, dict[str, tuple[float, float]]] = {}
    for people in people_counts:
        scene = synthetic_scene(0, people=people, frames=frames, dim=128)
        dets = np.mean([len(rec) for rec, _ in scene])
        results[people] = {}
        for name, (factory, _) in adapters.items():
            update = factory()
            pred, t0 = [], time.perf_counter()
            for rec, _ in scene:
                pred.append(update(rec))
            ms = 1000 * (time.perf_counter() - t0) / len(scene)
            idf1 = identity_metrics([g for _, g in scene], pred)["idf1"]
            results[people][name] = (ms, idf1)
        print(f"{people} people ({dets:.1f} detections/frame, {frames} frames):")
        base = results[people]["kprtrack bytetrack_iou"][0]
        for name, (ms, idf1) in results[people].items():
            print(f"  {name:<34s} {adapters[name][1]:<20s} {ms:8.3f} ms/frame  x{ms / base:5.2f} of ours (IoU)"
                  f"  IDF1 {idf1:.3f}")  # fmt: skip


# ------------------------------------------------------------------------------------------------ evaluation
def bench_eval(kit: Path | None, sequences: int, frames: int, people: int, repeat: int) -> None:
    from bench_eval import make_sequence

    from kprtrack.eval.evaluate import evaluate_folders
    from kprtrack.eval.hota_keypoints import combine_sequences, evaluate_sequence
    from kprtrack.eval.kit_view import kit_view
    from kprtrack.eval.loading import find_sequences, load_sequence

    print(f"\n## 2. Evaluation: seconds on the same predictions ({sequences} sequences x {frames} frames x "
          f"{people} people, best of {repeat})")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        gdir, pdir = Path(tmp, "gt"), Path(tmp, "pred")
        gdir.mkdir()
        pdir.mkdir()
        for s in range(sequences):
            gt, pred = make_sequence(900200 + s, frames, people, seed=s)
            name = f"{900200 + s:06d}_mpii_test.json"
            (gdir / name).write_text(json.dumps(gt))
            (pdir / name).write_text(json.dumps(pred))

        def full() -> float:
            return float(evaluate_folders(gdir, pdir).combined.hota.summary()["HOTA"])

        def hota_only() -> float:
            results = [evaluate_sequence(kit_view(load_sequence(g, p))) for _, g, p in find_sequences(gdir, pdir)]
            return float(combine_sequences(results).summary()["HOTA"])

        def best(fn: Callable[[], float]) -> tuple[float, float]:
            times, value = [], float("nan")
            for _ in range(repeat):
                t0 = time.perf_counter()
                value = fn()
                times.append(time.perf_counter() - t0)
            return min(times), value

        rows = {"kprtrack eval (HOTA + CLEAR + boxes)": best(full), "kprtrack keypoint HOTA only": best(hota_only)}
        if kit is None:
            print("(official kit not given: --kit PATH/TO/PoseTrack21/eval/posetrack21)")
        else:
            run_kit = _kit_runner(kit, gdir, Path(tmp))
            if run_kit is not None:
                rows["official PoseTrack21 kit (HOTAeypoints)"] = best(run_kit)
        base = rows["kprtrack keypoint HOTA only"][0]
        for name, (sec, hota) in rows.items():
            print(f"  {name:<42s} {sec:8.2f} s  x{sec / base:6.1f} of ours (HOTA only)  HOTA {100 * hota:.4f}")


def _kit_runner(kit: Path, gdir: Path, tmp: Path) -> Callable[[], float] | None:
    """A function that runs the official kit (serially, in this process) on ``tmp/pred`` and returns its HOTA."""
    sys.path.insert(0, str(kit.resolve()))
    for alias, builtin in (("int", int), ("float", float), ("bool", bool), ("object", object)):
        if alias not in np.__dict__:  # the kit uses numpy's aliases of builtins, removed in numpy 2.0
            setattr(np, alias, builtin)
    try:
        with warnings.catch_warnings():  # the kit's own SyntaxWarnings, at its first import
            warnings.simplefilter("ignore")
            import posetrack21.trackeval as te
    except ImportError as exc:
        print(f"(official kit at {kit} does not import: {exc})")
        return None

    def run() -> float:
        trackers = tmp / "kit_trackers"
        shutil.rmtree(trackers, ignore_errors=True)
        shutil.copytree(tmp / "pred", trackers)  # the kit writes its results next to the predictions
        config = {**te.Evaluator.get_default_eval_config(), **te.datasets.PoseTrack.get_default_dataset_config()}
        config.update(GT_FOLDER=str(gdir), TRACKERS_FOLDER=str(trackers), USE_PARALLEL=False,
                      PRINT_RESULTS=False, PRINT_CONFIG=False, TIME_PROGRESS=False, OUTPUT_SUMMARY=False,
                      OUTPUT_DETAILED=False, PLOT_CURVES=False)  # fmt: skip
        evaluator = te.Evaluator({k: v for k, v in config.items() if k in te.Evaluator.get_default_eval_config()})
        dataset = te.datasets.PoseTrack(
            {k: v for k, v in config.items() if k in te.datasets.PoseTrack.get_default_dataset_config()}
        )
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            results, _ = evaluator.evaluate([dataset], [te.metrics.HOTAeypoints()])
        per_dataset = results["PoseTrack"]
        tracker = next(iter(per_dataset))
        combined = per_dataset[tracker]["COMBINED_SEQ"]
        hota = np.asarray(next(iter(combined.values()))["HOTAeypoints"]["HOTA"])  # (alphas, joints + total)
        return float(hota[:, -1].mean())

    return run


# ------------------------------------------------------------------------------------------------ KPR
def _load_reference_swin(repo: Path):  # noqa: ANN202
    path = repo / "torchreid" / "models" / "solider" / "backbones" / "swin_transformer.py"
    spec = importlib.util.spec_from_file_location("kpr_reference_swin", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_kpr(repo: Path | None, batches: list[int], repeats: int) -> None:
    from bench_kpr import synthetic_people

    from kprtrack.reid.build import build_kpr
    from kprtrack.reid.checkpoint import released_state_dict
    from kprtrack.reid.embedder import KPREmbedder

    print("\n## 3. KPR encoder: crops/s (1 thread, float32, random weights, 384x128)")
    reference = None
    if repo is None:
        print("(KPR reference not given: --kpr-reference PATH/TO/keypoint_promptable_reidentification)")
    else:
        try:
            reference = _load_reference_swin(repo)
        except (OSError, ImportError) as exc:
            print(f"(KPR reference at {repo} does not load: {exc})")
    for variant in ("kpr_swin_nano_k8", "kpr_swin_base_k8"):
        torch.manual_seed(0)
        model = build_kpr(variant, num_classes=16).eval()
        enc, swin = model.image_encoder, model.config.swin
        embedder = KPREmbedder(model)
        ref = None
        if reference is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = reference.SwinTransformer(
                    pretrain_img_size=model.config.image_size, patch_size=swin.patch_size,
                    window_size=swin.window_size, embed_dims=swin.embed_dim, depths=tuple(swin.depths),
                    num_heads=tuple(swin.num_heads), drop_path_rate=0.0, semantic_weight=swin.semantic_weight,
                    convert_weights=False,
                )  # fmt: skip
            ref.eval()  # (its train() override returns None)
            prefix = "backbone_appearance_feature_extractor.model."
            state = {k[len(prefix) :]: v for k, v in released_state_dict(model).items() if k.startswith(prefix)}
            missing, unexpected = ref.load_state_dict(state, strict=False)
            if missing or unexpected:
                print(f"  ({variant}: reference keys missing {missing[:4]}, unexpected {unexpected[:4]})")

        def ours(x: torch.Tensor, enc=enc) -> torch.Tensor:  # noqa: ANN001
            tokens, hw = enc.embed(x)
            return enc(tokens, hw)[-1]

        def theirs(x: torch.Tensor, ref=ref) -> torch.Tensor:  # noqa: ANN001
            return ref(x)[1][-1]

        print(f"{variant} ({sum(p.numel() for p in enc.parameters()) / 1e6:.1f} M encoder parameters):")
        for batch in batches:
            x = torch.randn(batch, 3, *model.config.image_size)
            crops, kps, negs = synthetic_people(batch)
            rows = {"ours: Swin encoder": lambda x=x, f=ours: f(x)}
            if ref is not None:
                rows["reference SOLIDER Swin (same weights)"] = lambda x=x, f=theirs: f(x)
            rows["ours: whole embedder (resize, prompts, model)"] = (
                lambda c=crops, k=kps, n=negs, e=embedder: e.embed_crops(c, k, n)
            )
            speeds = {}
            with torch.inference_mode():
                if ref is not None:
                    a, b = ours(x), theirs(x)
                    diff = float((a - b).abs().max() / b.abs().max())
                for name, fn in rows.items():
                    fn()
                    times = []
                    for _ in range(repeats):
                        t0 = time.perf_counter()
                        fn()
                        times.append(time.perf_counter() - t0)
                    speeds[name] = batch / float(np.median(times))
            base = speeds["ours: Swin encoder"]
            for name, speed in speeds.items():
                print(f"  batch {batch:3d}  {name:<46s} {speed:8.2f} crops/s  x{base / speed:5.2f} (ours / it)")
            if ref is not None:
                print(f"  batch {batch:3d}  max |ours - reference| / max |reference| = {diff:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", default="10,30,100", help="crowd sizes for the association benchmark")
    parser.add_argument("--frames", type=int, default=300, help="frames per association scene")
    parser.add_argument("--kit", type=Path, default=None, help="the official kit: PoseTrack21/eval/posetrack21")
    parser.add_argument("--eval-sequences", type=int, default=10)
    parser.add_argument("--eval-frames", type=int, default=150)
    parser.add_argument("--eval-people", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kpr-reference", type=Path, default=None, help="checkout of the KPR authors' repository")
    parser.add_argument("--kpr-batches", default="1,16")
    parser.add_argument("--skip", default="", help="comma list of sections to skip: association, eval, kpr")
    args = parser.parse_args()
    torch.set_num_threads(1)
    skip = set(filter(None, args.skip.split(",")))
    print(f"torch {torch.__version__}, numpy {np.__version__}, 1 thread, load average {os.getloadavg()[0]:.2f}")
    if "association" not in skip:
        bench_association([int(p) for p in args.people.split(",")], args.frames)
    if "eval" not in skip:
        bench_eval(args.kit, args.eval_sequences, args.eval_frames, args.eval_people, args.repeat)
    if "kpr" not in skip:
        bench_kpr(args.kpr_reference, [int(b) for b in args.kpr_batches.split(",")], args.repeat)


if __name__ == "__main__":
    main()
