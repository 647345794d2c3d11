"""``kprtrack serve``'s API through FastAPI's TestClient: uploads, limits, traversal attempts, jobs."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
try:  # Starlette's TestClient uses httpx2, or httpx (older Starlette; deprecated by newer ones)
    import httpx2  # noqa: F401
except ImportError:
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx2 or httpx (pip install httpx2)")

from fastapi.testclient import TestClient  # noqa: E402

from kprtrack.follow.evaluate import score_follow  # noqa: E402
from kprtrack.follow.result import FollowResult  # noqa: E402
from kprtrack.follow.web.app import Settings, create_app  # noqa: E402
from kprtrack.follow.web.storage import display_name  # noqa: E402
from tests.follow_data import follow_clip  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return follow_clip(tmp_path_factory)


@pytest.fixture
def server(tmp_path):
    work = tmp_path / "work"
    app = create_app(Settings(work, max_upload_mb=1, max_frames=100, allowed_hosts=["testserver"]))
    with TestClient(app) as client:
        yield client, work
    app.state.jobs.close()


def _files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def _upload(client, data: bytes, name: str):
    return client.post("/api/videos", params={"name": name}, content=data)


def test_page_and_settings(server):
    client, _ = server
    page = client.get("/")
    assert page.status_code == 200 and 'id="frame"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/api/settings").json()["max_upload_mb"] == 1


def test_upload_checks_type_size_and_names(server, clip, tmp_path):
    client, work = server
    data = clip.video.read_bytes()
    response = _upload(client, data, "../../../etc/evil name<>.mp4")
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["name"] == "evil name_.mp4" and entry["frames"] == 30 and len(entry["id"]) == 32
    assert client.get("/api/videos").json() == [entry]
    # the only files written are in the work dir, under the server's own names
    assert _files(tmp_path) == _files(work)
    assert {p.name for p in _files(work)} == {f"{entry['id']}.mp4", f"{entry['id']}.json"}

    assert _upload(client, b"not a video at all", "clip.mp4").status_code == 415  # decoded by OpenCV: refused
    assert _upload(client, data, "clip.txt").status_code == 415
    assert _upload(client, data, "clip").status_code == 415
    assert _upload(client, b"", "clip.mp4").status_code == 400
    big = _upload(client, b"\0" * (2**20 + 1), "big.mp4")  # refused on its Content-Length
    assert big.status_code == 413 and "upload limit" in big.json()["detail"]
    chunked = _upload(client, iter([b"\0" * 2**19] * 3), "big.mp4")  # no length: cut off while streaming
    assert chunked.status_code == 413 and "upload limit" in chunked.json()["detail"]
    assert len(client.get("/api/videos").json()) == 1
    assert {p.name for p in _files(work)} == {f"{entry['id']}.mp4", f"{entry['id']}.json"}  # nothing left over


def test_display_names_are_sanitised():
    assert display_name("..\\..\\win.mp4") == "win.mp4"
    assert display_name("/etc/passwd") == "passwd"
    assert display_name("..") == "video" and display_name(None) == "video"


def test_traversal_and_unknown_ids_are_404(server, clip):
    client, work = server
    vid = _upload(client, clip.video.read_bytes(), "a.mp4").json()["id"]
    assert client.get(f"/api/videos/{vid}/frames/3.jpg").headers["content-type"] == "image/jpeg"
    for path in (
        f"/api/videos/{vid}/frames/30.jpg",  # out of range
        "/api/videos/..%2F..%2Fetc%2Fpasswd/frames/0.jpg",
        "/api/videos/../../etc/passwd/frames/0.jpg",
        f"/api/videos/{vid[:-1]}g/frames/0.jpg",
        "/api/jobs/..%2f..%2fvideos",
        f"/api/jobs/{vid}",
        f"/api/jobs/{vid}/..%2F..%2Fvideos%2F{vid}.mp4",
        "/static/..%2F..%2Fapi.py",
        "/static/../app.py",
    ):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert b"import" not in response.content


def test_requests_must_name_an_allowed_host(server):
    client, _ = server
    assert client.get("/api/settings", headers={"Host": "evil.example"}).status_code == 400


def test_bad_job_requests_are_400(server, clip):
    client, _ = server
    vid = _upload(client, clip.video.read_bytes(), "a.mp4").json()["id"]
    cases = [
        ({"video_id": vid, "frame": 30, "positives": [[5, 5]]}, 400, "out of range"),
        ({"video_id": vid, "frame": 0, "positives": [[641, 5]]}, 400, "outside the 640x360 frame"),
        ({"video_id": vid, "frame": 0, "positives": [[5, 5]], "prompt_mode": "x"}, 400, "prompt_mode"),
        ({"video_id": vid, "frame": 0, "positives": []}, 422, ""),
        ({"video_id": "0" * 32, "frame": 0, "positives": [[5, 5]]}, 404, "unknown video"),
        ({"video_id": "../x", "frame": 0, "positives": [[5, 5]]}, 404, "unknown video"),
    ]
    for body, status, text in cases:
        response = client.post("/api/jobs", json=body)
        assert response.status_code == status, (body, response.text)
        assert text in response.text


def _wait(client, job_id: str, timeout: float = 120.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] in ("done", "error"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def test_a_job_follows_the_person_and_serves_its_results(server, clip):
    client, work = server
    vid = _upload(client, clip.video.read_bytes(), "a.mp4").json()["id"]
    nobody = client.post("/api/jobs", json={"video_id": vid, "frame": 0, "positives": [[2, 2]]})
    body = {
        "video_id": vid,
        "frame": clip.clicks.frame,
        "positives": clip.clicks.positives.tolist(),
        "negatives": clip.clicks.negatives.tolist(),
    }
    started = client.post("/api/jobs", json=body)
    assert nobody.status_code == started.status_code == 202
    failed = _wait(client, nobody.json()["id"])
    assert failed["state"] == "error" and "no detected person at (2, 2)" in failed["error"]
    status = _wait(client, started.json()["id"])
    assert status["state"] == "done", status
    assert status["done"] == status["total"] == 30 and status["summary"]["prompts_used"]
    result = client.get(status["files"]["follow.json"])
    assert result.headers["content-disposition"].startswith("attachment")
    followed = FollowResult.from_json(json.loads(result.content))
    assert score_follow(followed.frames, clip.gt, clip.target).accuracy >= 0.9
    video = client.get(status["files"]["overlay.webm"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/webm"
    assert video.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
    assert client.get(f"/api/jobs/{status['id']}/secret.txt").status_code == 404
