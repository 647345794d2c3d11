"""The FastAPI application behind ``kprtrack serve``.

API (JSON unless said otherwise; ids are 32 hex digits made by the server):

=========================================  =====================================================
``GET /``                                  the page (``static/index.html``)
``GET /api/settings``                      limits and accepted suffixes
``GET /api/videos``                        uploaded videos
``POST /api/videos?name=FILE``             upload: the request body is the video file (streamed,
                                           cut off past ``max_upload_mb``: 413; a suffix not
                                           accepted or a file OpenCV cannot decode: 415)
``GET /api/videos/{id}/frames/{n}.jpg``    frame ``n`` as JPEG (to scrub and click on)
``POST /api/jobs``                         ``{video_id, frame, positives: [[x, y]], negatives,
                                           prompt_mode}``: starts a follow job (202); bad clicks: 400
``GET /api/jobs/{id}``                     status: state, progress, error, result file URLs
``GET /api/jobs/{id}/follow.json``         the result; ``.../overlay.webm`` the overlay video
=========================================  =====================================================

Security defaults: the CLI binds 127.0.0.1; requests must name an allowed host (``Host`` header
checked: no DNS rebinding from a web page elsewhere); uploads are size-limited while streaming,
type-checked by suffix and by decoding; the server writes and serves files of its work dir only,
under names it generates (:mod:`kprtrack.follow.web.storage`).

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run time,
and they name classes imported inside :func:`create_app`.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprtrack.follow.web.jobs import RESULT_FILES, JobRunner
from kprtrack.follow.web.storage import ALLOWED_SUFFIXES, UploadError, WorkDir

STATIC = Path(__file__).resolve().parent / "static"


@dataclass
class Settings:
    """How the server runs.

    Attributes:
        work_dir: where uploads and results go (nothing is written elsewhere).
        config: pipeline config file or name in ``configs/``.
        overrides: ``key=value`` config overrides.
        max_upload_mb: largest accepted upload, in MiB.
        max_frames: longest accepted video, in frames (bounds a job's duration).
        allowed_hosts: accepted ``Host`` header names.
    """

    work_dir: Path
    config: str = "demo"
    overrides: list[str] = field(default_factory=list)
    max_upload_mb: float = 200.0
    max_frames: int = 3000
    allowed_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1", "localhost"])

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 2**20)


def create_app(settings: Settings) -> Any:
    """The FastAPI application (the ``web`` extra must be installed).

    The app's job runner is ``app.state.jobs``; call ``app.state.jobs.close()`` when done with the app.
    """
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from pydantic import BaseModel, Field
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from kprtrack.follow.api import FollowRequest, read_frame
    from kprtrack.follow.clicks import Clicks, FollowError
    from kprtrack.follow.matcher import FollowOptions

    work = WorkDir(settings.work_dir)
    jobs = JobRunner(work)
    app = FastAPI(title="kprtrack follow", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.work = work
    app.state.jobs = jobs
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    class JobIn(BaseModel):
        video_id: str
        frame: int
        positives: list[list[float]] = Field(min_length=1)
        negatives: list[list[float]] = Field(default_factory=list)
        prompt_mode: str = "clicks+pose"

    def video_or_404(video_id: str) -> Any:
        try:
            return work.video(video_id)
        except KeyError:
            raise HTTPException(404, "unknown video") from None

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/settings")
    def get_settings() -> dict[str, Any]:
        return {
            "max_upload_mb": settings.max_upload_mb,
            "max_frames": settings.max_frames,
            "suffixes": list(ALLOWED_SUFFIXES),
            "config": str(settings.config),
        }

    @app.get("/api/videos")
    def list_videos() -> list[dict[str, Any]]:
        return [v.to_json() for v in work.list_videos()]

    @app.post("/api/videos", status_code=201)
    async def upload(request: Request, name: str = "") -> dict[str, Any]:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_upload_bytes:
            raise HTTPException(413, f"larger than the {settings.max_upload_mb:g} MiB upload limit")
        try:
            entry = await work.save_upload(request.stream(), name, settings.max_upload_bytes, settings.max_frames)
        except UploadError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return entry.to_json()

    @app.get("/api/videos/{video_id}/frames/{index}.jpg")
    def frame_jpeg(video_id: str, index: int) -> Response:
        import cv2

        from kprtrack.video import VideoSourceError

        entry = video_or_404(video_id)
        if not 0 <= index < entry.frames:
            raise HTTPException(404, f"frame {index} is out of range: the video has {entry.frames} frames")
        try:
            rgb = read_frame(work.video_path(entry), index)
        except VideoSourceError as exc:
            raise HTTPException(404, str(exc)) from None
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise HTTPException(500, "cannot encode the frame")
        return Response(data.tobytes(), media_type="image/jpeg")

    @app.post("/api/jobs", status_code=202)
    def start_job(body: JobIn) -> dict[str, Any]:
        entry = video_or_404(body.video_id)
        try:
            clicks = Clicks.create(body.frame, body.positives, body.negatives)
            clicks.check(entry.frames, entry.width, entry.height)
            options = FollowOptions(prompt_mode=body.prompt_mode)
        except (FollowError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        request = FollowRequest(
            work.video_path(entry), clicks, config=settings.config, overrides=list(settings.overrides), options=options
        )
        try:
            job = jobs.submit(entry.id, request)
        except RuntimeError as exc:
            raise HTTPException(429, str(exc)) from None
        return job.to_json()

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> dict[str, Any]:
        try:
            return jobs.get(job_id).to_json()
        except KeyError:
            raise HTTPException(404, "unknown job") from None

    @app.get("/api/jobs/{job_id}/{name}")
    def job_file(job_id: str, name: str) -> FileResponse:
        try:
            path = jobs.result_path(job_id, name)
        except KeyError:
            raise HTTPException(404, "no such result") from None
        headers = {"Content-Disposition": 'attachment; filename="follow.json"'} if name == "follow.json" else None
        return FileResponse(path, media_type=RESULT_FILES[name], headers=headers)

    @app.exception_handler(PermissionError)
    async def outside(request: Request, exc: PermissionError) -> JSONResponse:
        return JSONResponse({"detail": "not found"}, status_code=404)

    return app
