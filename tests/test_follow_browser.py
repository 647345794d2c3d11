"""The follow page end to end in a real headless Chromium: upload, scrub, click on a person, run, download.

Needs Playwright for Python (``pip install playwright``; its own browser download is not used) and a
Chromium executable: ``$KPRTRACK_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH
(Debian: ``apt-get install chromium``). Skipped, with the reason, when either is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import threading

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install -e '.[web]')")
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

from kprtrack.follow.evaluate import score_follow  # noqa: E402
from kprtrack.follow.result import FollowResult  # noqa: E402
from tests.follow_data import follow_clip  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str | None:
    """``$KPRTRACK_CHROMIUM`` or a Chromium on the PATH."""
    env = os.environ.get("KPRTRACK_CHROMIUM")
    if env:
        return env if os.path.isfile(env) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def served(tmp_path):
    """The app on a free loopback port, in a thread."""
    from kprtrack.follow.web.app import Settings, create_app
    from kprtrack.follow.web.server import bind_socket, make_server, url_of

    app = create_app(Settings(tmp_path / "work"))
    sock = bind_socket("127.0.0.1", 0)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield url_of(sock)
    server.should_exit = True
    thread.join(10)
    app.state.jobs.close()
    sock.close()


def test_click_on_a_person_and_follow_them_in_a_real_browser(served, tmp_path_factory, tmp_path):
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium executable (set KPRTRACK_CHROMIUM or apt-get install chromium)")
    clip = follow_clip(tmp_path_factory)
    clicks = clip.clicks
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(served + "/")
            page.set_input_files("#upload", str(clip.video))
            page.wait_for_function("document.getElementById('video-select').value !== ''")
            assert "uploaded" in page.inner_text("#upload-status")
            page.eval_on_selector(
                "#frame-slider", "(el, n) => { el.value = n; el.dispatchEvent(new Event('input')); }", clicks.frame
            )
            page.wait_for_function(
                "(n) => { const i = document.getElementById('frame');"
                " return i.complete && i.naturalWidth > 0 && i.src.endsWith(`/frames/${n}.jpg`); }",
                arg=clicks.frame,
            )
            frame = page.locator("#frame")
            scale = frame.bounding_box()["width"] / 640
            for x, y in clicks.positives:
                frame.click(position={"x": x * scale, "y": y * scale})
            for x, y in clicks.negatives:
                frame.click(position={"x": x * scale, "y": y * scale}, modifiers=["Shift"])
            expected = f"{len(clicks.positives)} on the person, {len(clicks.negatives)} excluding"
            assert page.inner_text("#clicks-text") == expected
            page.click("#run")
            page.wait_for_function(
                "['done'].includes(document.getElementById('status').textContent)"
                " || document.getElementById('status').classList.contains('error')",
                timeout=180_000,
            )
            assert page.inner_text("#status") == "done"
            assert "your clicks were used as KPR prompts" in page.inner_text("#summary")
            # the overlay (WebM/VP8) loads and plays in Chromium
            page.wait_for_function("document.getElementById('overlay').readyState >= 1", timeout=30_000)
            assert page.eval_on_selector("#overlay", "v => v.duration") > 1.0
            page.screenshot(path=str(tmp_path / "follow_page.png"), full_page=True)
            with page.expect_download() as download:
                page.click("#download")
            data = json.loads(open(download.value.path()).read())
            assert not errors, errors
        finally:
            browser.close()
    result = FollowResult.from_json(data)
    score = score_follow(result.frames, clip.gt, clip.target)
    assert score.query_correct
    assert score.accuracy >= 0.9, score  # the followed track is the clicked ground-truth person
