"""Frame sources (video file, image folder, PoseTrack21 sequence folder) and video writing.

Frames are yielded as RGB uint8 ``(H, W, 3)`` arrays. Decoding runs in a background thread that
fills a small bounded queue, so it overlaps with the models' compute without ever buffering
more than ``prefetch`` frames: memory does not grow with the video's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


class VideoSourceError(ValueError):
    """The input cannot be read as a video, an image folder or a PoseTrack21 sequence."""


@dataclass
class VideoInfo:
    """What is known about a source before decoding it.

    Attributes:
        path: the input path.
        kind: ``video``, ``images`` or ``posetrack21`` (an image folder with a ground-truth file).
        name: sequence name (file stem or folder name).
        fps: frames per second (25 for image folders unless known).
        num_frames: number of frames in the selected range.
        width, height: frame size in pixels.
        gt_path: the PoseTrack21 ground-truth JSON of a sequence folder, when found.
        images: PoseTrack21 ``images`` entries of the selected frames (from the ground truth, or
            generated for plain videos), used to write predictions the evaluator can align.
    """

    path: Path
    kind: str
    name: str
    fps: float
    num_frames: int
    width: int
    height: int
    gt_path: Path | None = None
    images: list[dict[str, Any]] = field(default_factory=list)


def _find_gt(folder: Path) -> Path | None:
    # <root>/images/<split>/<seq>/ -> <root>/posetrack_data/<split>/<seq>.json
    if len(folder.parents) >= 3 and folder.parents[1].name == "images":
        candidate = folder.parents[2] / "posetrack_data" / folder.parent.name / f"{folder.name}.json"
        if candidate.is_file():
            return candidate
    return None


class FrameSource:
    """Iterate over the RGB frames of a video file, an image folder or a PoseTrack21 sequence folder.

    Args:
        path: the input.
        start: first frame index (inclusive).
        end: last frame index (exclusive); ``None`` for the end of the video.
        max_frames: read at most this many frames.
        prefetch: size of the decode-ahead queue.

    Raises:
        VideoSourceError: the path is missing, unreadable, of an unknown kind or has no frames.
    """

    def __init__(
        self,
        path: str | Path,
        start: int = 0,
        end: int | None = None,
        max_frames: int | None = None,
        prefetch: int = 4,
    ) -> None:
        import cv2

        self.path = Path(path)
        if start < 0 or (end is not None and end <= start) or (max_frames is not None and max_frames <= 0):
            raise VideoSourceError(f"invalid frame range start={start} end={end} max_frames={max_frames}")
        if not self.path.exists():
            raise VideoSourceError(f"input not found: {self.path}")
        self._files: list[Path] | None = None
        gt_path = None
        if self.path.is_dir():
            files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise VideoSourceError(f"{self.path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            first = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
            if first is None:
                raise VideoSourceError(f"{files[0]}: unreadable image")
            total, fps, (h, w) = len(files), 25.0, first.shape[:2]
            gt_path = _find_gt(self.path)
            kind = "posetrack21" if gt_path else "images"
            self._files = files
        else:
            cap = cv2.VideoCapture(str(self.path))
            ok, first = cap.read() if cap.isOpened() else (False, None)
            if not ok or first is None:
                cap.release()
                raise VideoSourceError(f"{self.path}: cannot decode any frame (not a video, or an unsupported codec)")
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
            h, w = first.shape[:2]
            cap.release()
            kind = "video"
            if total <= 0:
                total = self._count_frames()
        stop = total if end is None else min(end, total)
        if max_frames is not None:
            stop = min(stop, start + max_frames)
        if stop <= start:
            raise VideoSourceError(f"{self.path}: no frames in the selected range (video has {total} frames)")
        self.start, self.stop, self.prefetch = start, stop, max(1, prefetch)
        images = self._images(gt_path, total)
        self.info = VideoInfo(
            path=self.path,
            kind=kind,
            name=self.path.stem if kind == "video" else self.path.name,
            fps=fps,
            num_frames=stop - start,
            width=int(w),
            height=int(h),
            gt_path=gt_path,
            images=images[start:stop],
        )

    def _count_frames(self) -> int:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        n = 0
        while cap.grab():
            n += 1
        cap.release()
        return n

    def _images(self, gt_path: Path | None, total: int) -> list[dict[str, Any]]:
        from kprtrack.io.posetrack21 import read_ground_truth, video_images

        if gt_path is not None:
            gt = read_ground_truth(gt_path)
            if len(gt.images) != total:
                raise VideoSourceError(f"{gt_path}: has {len(gt.images)} images but {self.path} holds {total} frames")
            return gt.images
        return video_images(0, total, self.path.stem)

    def __len__(self) -> int:
        return self.stop - self.start

    def _decode(self) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        if self._files is not None:
            for i in range(self.start, self.stop):
                bgr = cv2.imread(str(self._files[i]), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise VideoSourceError(f"{self._files[i]}: unreadable image")
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            if self.start:
                cap.set(cv2.CAP_PROP_POS_FRAMES, self.start)
            for i in range(self.start, self.stop):
                ok, bgr = cap.read()
                if not ok:
                    break  # container reported more frames than it holds
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_index, rgb_frame)`` with decoding done ahead in a thread."""
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def worker() -> None:
            try:
                for item in self._decode():
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(done)
            except BaseException as exc:  # hand decoding errors to the consumer
                q.put(exc)

        thread = threading.Thread(target=worker, name="kprtrack-decode", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=5)


#: Codec (OpenCV fourcc) per output suffix; anything else is written as MPEG-4 part 2.
WRITER_FOURCC = {".avi": "MJPG", ".webm": "VP80"}


class VideoWriter:
    """Write RGB frames to an ``.mp4`` (MPEG-4 part 2, ``mp4v``), a ``.webm`` (VP8: plays in web browsers)
    or an ``.avi`` (MJPG).

    Raises:
        OSError: the file cannot be opened for writing.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        import cv2

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = size
        self._writer = None
        for fourcc in (WRITER_FOURCC.get(self.path.suffix.lower(), "mp4v"),):
            writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), float(fps), size)
            if writer.isOpened():
                self._writer = writer
                break
            writer.release()
        if self._writer is None:
            raise OSError(f"cannot open {self.path} for writing a video")

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one RGB frame of the writer's size."""
        import cv2

        if frame_rgb.shape[1] != self.size[0] or frame_rgb.shape[0] != self.size[1]:
            raise ValueError(f"frame size {frame_rgb.shape[1]}x{frame_rgb.shape[0]} != video size {self.size}")
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
