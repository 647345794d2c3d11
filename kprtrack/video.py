"""Frame sources (video file, image folder, PoseTrack21 sequence folder) and video writing.

Frames are yielded as RGB uint8 ``(H, W, 3)`` arrays. Decoding runs in a background thread that
fills a small bounded queue, so it overlaps with the models' compute without ever buffering
more than ``prefetch`` frames: memory does not grow with the video's length.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kprtrack.errors import KprtrackError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
#: containers that store their frame count (others estimate it from their duration).
COUNTED_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")
#: a reported frame rate above this (or not a positive number) is replaced by 25.
MAX_FPS = 1000.0

logger = logging.getLogger(__name__)


class VideoSourceError(KprtrackError, ValueError):
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
        VideoSourceError: the path is missing, unreadable, of an unknown kind or has no frames; while
            iterating, a frame that cannot be decoded (naming its index; the frames before it were yielded).
    """

    def __init__(
        self,
        path: str | Path,
        start: int = 0,
        end: int | None = None,
        max_frames: int | None = None,
        prefetch: int = 4,
    ) -> None:
        self.path = Path(path)
        if start < 0 or (end is not None and end <= start) or (max_frames is not None and max_frames <= 0):
            raise VideoSourceError(f"invalid frame range start={start} end={end} max_frames={max_frames}")
        if not self.path.exists():
            raise VideoSourceError(f"input not found: {self.path}")
        if not os.access(self.path, os.R_OK):
            raise VideoSourceError(f"{self.path}: permission denied (the input is not readable)")
        self._files: list[Path] | None = None
        gt_path = None
        if self.path.is_dir():
            self._files = self._list_images()
            total, fps, (h, w) = len(self._files), 25.0, self._read_image(self._files[0], 0).shape[:2]
            gt_path = _find_gt(self.path)
            kind = "posetrack21" if gt_path else "images"
        else:
            total, fps, (h, w) = self._probe_video()
            kind = "video"
        self.announced = total
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

    def _list_images(self) -> list[Path]:
        """The folder's images, sorted by name; other files are ignored with a warning."""
        try:
            entries = sorted(self.path.iterdir())
        except OSError as exc:
            raise VideoSourceError(f"{self.path}: cannot list the folder ({exc.strerror or exc})") from exc
        files = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise VideoSourceError(f"{self.path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        others = [p.name for p in entries if p not in files and not p.name.startswith(".") and p.is_file()]
        if others:
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            logger.warning("%s: ignoring %d file(s) that are not images: %s", self.path, len(others), shown)
        return files

    def _read_image(self, file: Path, index: int) -> np.ndarray:
        """One image of the folder as BGR uint8 (grayscale, 16-bit and RGBA images are converted)."""
        import cv2

        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)  # 3-channel, 8-bit whatever the file holds
        if bgr is None or bgr.size == 0:
            why = "permission denied" if not os.access(file, os.R_OK) else "not a readable image (damaged?)"
            raise VideoSourceError(f"{file}: frame {index} of {self.path}: {why}")
        return bgr

    def _probe_video(self) -> tuple[int, float, tuple[int, int]]:
        """(announced frame count, frames per second, (height, width)) of a video file."""
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            opened = cap.isOpened()
            ok, first = cap.read() if opened else (False, None)
            if not ok or first is None:
                if self.path.stat().st_size == 0:
                    raise VideoSourceError(f"{self.path}: empty file (0 bytes)")
                if opened:
                    raise VideoSourceError(f"{self.path}: opens as a video but holds no decodable frame")
                raise VideoSourceError(f"{self.path}: cannot decode any frame (not a video, or an unsupported codec)")
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = float(cap.get(cv2.CAP_PROP_FPS))
        finally:
            cap.release()
        if not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
            logger.warning("%s: frame rate %s is not usable, assuming 25 frames/s", self.path, fps)
            fps = 25.0
        return (total if total > 0 else self._count_frames()), fps, first.shape[:2]

    def _count_frames(self) -> int:
        """Frames of a video whose container does not announce a count (decodes them all once)."""
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
            warned = False
            for i in range(self.start, self.stop):
                bgr = self._read_image(self._files[i], i)
                if not warned and bgr.shape[:2] != (self.info.height, self.info.width):
                    warned = True
                    logger.warning(
                        "%s: images of different sizes (%s is %dx%d, the first %dx%d): each frame is processed "
                        "at its own size, an overlay video is resized to the first",
                        self.path, self._files[i].name, bgr.shape[1], bgr.shape[0], self.info.width, self.info.height,
                    )  # fmt: skip
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            if self.start:
                cap.set(cv2.CAP_PROP_POS_FRAMES, self.start)
            for i in range(self.start, self.stop):
                ok, bgr = cap.read()
                if not ok:
                    self._check_end(cap, i)
                    return
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    def _check_end(self, cap: Any, index: int) -> None:
        """Frame ``index`` does not decode: accept it as the end, or raise naming it.

        A frame that fails while later ones decode is a damaged stream. A stream that ends before
        the frame count its container announces is a truncated file for containers that store the
        count (MP4, MOV, AVI) unless it is within the last 1 % (a frame or two off is common); other
        containers (Matroska, WebM, ...) only estimate it from their duration, so there the early
        end is a warning.

        Raises:
            VideoSourceError: naming the file and the frame index.
        """
        if any(cap.grab() for _ in range(3)):
            raise VideoSourceError(f"{self.path}: frame {index} cannot be decoded (damaged stream)")
        if self.announced - index <= max(1, self.announced // 100):
            return
        message = f"{self.path}: the stream ends at frame {index} of the {self.announced} it announces"
        if self.path.suffix.lower() not in COUNTED_SUFFIXES:
            logger.warning("%s (an estimate of this container)", message)
            return
        raise VideoSourceError(f"{message} (truncated file?)")

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
    or an ``.avi`` (MJPG), atomically.

    Frames go to a temporary file next to ``path``, renamed over it by :meth:`close`, so a reader
    never sees a half-written video and an existing file stays intact until the new one is complete;
    :meth:`abort` (or leaving a ``with`` block with an exception) removes the temporary file.

    Args:
        path: the video file.
        fps: frames per second.
        size: ``(width, height)`` of the video.
        fit: resize frames of another size to the video's size (instead of raising), and round the
            size up to even numbers of at least 2 pixels, which the MPEG-4 encoder needs.

    Raises:
        OSError: the file cannot be opened for writing.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], fit: bool = False) -> None:
        import cv2

        from kprtrack.io.atomic import output_mode

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fit = fit
        self.size = (max(2, size[0] + size[0] % 2), max(2, size[1] + size[1] % 2)) if fit else tuple(size)
        self.frames = 0
        self._writer = None
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".tmp{self.path.suffix}", dir=self.path.parent)
        os.close(fd)
        self._tmp: Path | None = Path(tmp)
        os.chmod(tmp, output_mode(self.path))
        fourcc = WRITER_FOURCC.get(self.path.suffix.lower(), "mp4v")
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc), float(fps), self.size)
        if not writer.isOpened():
            writer.release()
            self._remove_tmp()
            raise OSError(f"cannot open {self.path} for writing a {self.size[0]}x{self.size[1]} video")
        self._writer = writer

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one RGB frame of the writer's size (any size with ``fit``)."""
        import cv2

        if self._writer is None:
            raise ValueError(f"{self.path}: the video is already closed")
        if frame_rgb.shape[1] != self.size[0] or frame_rgb.shape[0] != self.size[1]:
            if not self.fit:
                raise ValueError(f"frame size {frame_rgb.shape[1]}x{frame_rgb.shape[0]} != video size {self.size}")
            frame_rgb = cv2.resize(frame_rgb, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finish the file and move it into place (a video without frames is discarded instead)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if self.frames == 0:
                self._remove_tmp()
                return
            os.replace(self._tmp, self.path)
            self._tmp = None

    def abort(self) -> None:
        """Discard the video; an existing file at ``path`` is left as it was."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
