"""The web app's work dir: every file it writes lives here, under names it makes itself.

::

    WORK/videos/<id>.<suffix>     an uploaded video (id: 32 hex digits, suffix from ALLOWED_SUFFIXES)
    WORK/videos/<id>.json         its metadata (display name, frames, size, fps)
    WORK/jobs/<id>/follow.json    a job's result, overlay.webm its overlay video

User input never becomes a path: ids are generated here (``uuid4().hex``) and checked with
:func:`check_id` before use, the uploaded file's name is only kept (sanitised) for display, and
:meth:`WorkDir.inside` refuses any path that resolves outside the work dir.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

#: Upload suffixes accepted (and then checked by decoding the file with OpenCV).
ALLOWED_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")

_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadError(ValueError):
    """An upload was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class VideoEntry:
    """An uploaded video.

    Attributes:
        id: 32 hex digits.
        name: the uploaded file's name, sanitised (display only).
        suffix: the stored file's suffix.
        frames, width, height, fps: what OpenCV decoded.
    """

    id: str
    name: str
    suffix: str
    frames: int
    width: int
    height: int
    fps: float

    def to_json(self) -> dict[str, object]:
        """Plain dict."""
        return asdict(self)


def new_id() -> str:
    """A fresh random id (32 hex digits)."""
    return uuid.uuid4().hex


def check_id(value: str) -> str:
    """``value`` if it is an id made by :func:`new_id`, else ``KeyError`` (callers answer 404)."""
    if not isinstance(value, str) or not _ID.match(value):
        raise KeyError(value)
    return value


def display_name(filename: str | None) -> str:
    """The last component of an uploaded file's name, with unusual characters removed (at most 100)."""
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    return cleaned[:100] or "video"


class WorkDir:
    """The web app's folder.

    Args:
        root: the folder (created).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.videos = self.root / "videos"
        self.jobs = self.root / "jobs"
        self.videos.mkdir(parents=True, exist_ok=True)
        self.jobs.mkdir(parents=True, exist_ok=True)

    def inside(self, path: Path) -> Path:
        """``path`` resolved, if it lies inside the work dir.

        Raises:
            PermissionError: it does not (a traversal attempt or a link leading out).
        """
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise PermissionError(f"{path} is outside the work dir")
        return resolved

    # ------------------------------------------------------------------ videos
    def video(self, video_id: str) -> VideoEntry:
        """The entry of an uploaded video.

        Raises:
            KeyError: unknown or malformed id.
        """
        meta = self.inside(self.videos / f"{check_id(video_id)}.json")
        if not meta.is_file():
            raise KeyError(video_id)
        return VideoEntry(**json.loads(meta.read_text()))

    def video_path(self, entry: VideoEntry) -> Path:
        """Where the video's file is."""
        if entry.suffix not in ALLOWED_SUFFIXES:
            raise KeyError(entry.id)
        return self.inside(self.videos / f"{check_id(entry.id)}{entry.suffix}")

    def list_videos(self) -> list[VideoEntry]:
        """Uploaded videos, oldest first."""
        metas = sorted(self.videos.glob("*.json"), key=lambda p: p.stat().st_mtime)
        out = []
        for meta in metas:
            try:
                out.append(self.video(meta.stem))
            except (KeyError, TypeError, ValueError):
                continue
        return out

    async def save_upload(
        self, chunks: AsyncIterator[bytes], filename: str | None, max_bytes: int, max_frames: int
    ) -> VideoEntry:
        """Store an uploaded video after checking its type and size.

        Args:
            chunks: the request body.
            filename: the client's file name (only its suffix and a sanitised display name are used).
            max_bytes: largest accepted size; the upload is cut off as soon as it is exceeded.
            max_frames: longest accepted video.

        Raises:
            UploadError: a suffix not in :data:`ALLOWED_SUFFIXES` (415), too large (413), not decodable
                by OpenCV (415), too long (413), empty (400).
        """
        name = display_name(filename)
        suffix = Path(name).suffix.lower()
        if suffix not in ALLOWED_SUFFIXES:
            raise UploadError(f"{name}: not a video file (accepted: {', '.join(ALLOWED_SUFFIXES)})", 415)
        video_id = new_id()
        part = self.inside(self.videos / f".{video_id}.part")
        target = self.inside(self.videos / f"{video_id}{suffix}")
        size = 0
        try:
            with open(part, "wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise UploadError(f"{name}: larger than the {max_bytes // 2**20} MiB upload limit", 413)
                    f.write(chunk)
            if size == 0:
                raise UploadError(f"{name}: empty upload", 400)
            os.replace(part, target)
            entry = self._probe(video_id, name, suffix, target, max_frames)
        except BaseException:
            part.unlink(missing_ok=True)
            target.unlink(missing_ok=True)
            raise
        (self.videos / f"{video_id}.json").write_text(json.dumps(entry.to_json()))
        return entry

    @staticmethod
    def _probe(video_id: str, name: str, suffix: str, path: Path, max_frames: int) -> VideoEntry:
        """Decode the stored file's first frame with OpenCV (the real type check)."""
        from kprtrack.video import FrameSource, VideoSourceError

        try:
            info = FrameSource(path).info
        except VideoSourceError as exc:
            raise UploadError(f"{name}: OpenCV cannot decode it as a video", 415) from exc
        if info.num_frames > max_frames:
            raise UploadError(f"{name}: {info.num_frames} frames, more than the limit of {max_frames}", 413)
        return VideoEntry(video_id, name, suffix, info.num_frames, info.width, info.height, float(info.fps))

    # ------------------------------------------------------------------ jobs
    def job_dir(self, job_id: str) -> Path:
        """A job's output folder (created)."""
        path = self.inside(self.jobs / check_id(job_id))
        path.mkdir(exist_ok=True)
        return path
