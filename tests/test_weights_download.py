"""Weights downloads against a local HTTP server (127.0.0.1 only; no test needs the internet)."""

from __future__ import annotations

import collections
import hashlib
import os
import random
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from kprtrack import weights
from kprtrack.download import ChecksumError, DownloadError, Expected, FetchOptions, fetch
from kprtrack.weights import WeightsEntry, WeightsNotFoundError, WeightsUnavailableError

PAYLOAD = random.Random(0).randbytes(200_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = FetchOptions(timeout=2.0, retries=3, backoff=0.0, progress="off")


class _Handler(BaseHTTPRequestHandler):
    """Routes: /good /cut (cut mid-body) /cut-once (cut the first time) /404 /slow /wrong /norange /drip."""

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        server = self.server
        route = self.path.strip("/").split("?")[0]
        with server.lock:
            server.log.append((route, self.headers.get("Range")))
            server.hits[route] += 1
            hit = server.hits[route]
        if route == "404":
            self.send_error(404, "Not Found")
            return
        if route == "slow":
            time.sleep(1.5)
        body = bytes(b ^ 0xFF for b in PAYLOAD[:1000]) + PAYLOAD[1000:] if route == "wrong" else PAYLOAD
        start = 0
        rng = self.headers.get("Range")
        if rng and route != "norange":
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        rest = body[start:]
        if route == "cut" or (route == "cut-once" and hit == 1):
            self.wfile.write(rest[: int(len(body) * 0.4)])  # then close: the client sees a short body
            self.wfile.flush()
            self.close_connection = True
            return
        if route == "drip":  # slow enough that two concurrent clients overlap
            for i in range(0, len(rest), 20_000):
                self.wfile.write(rest[i : i + 20_000])
                time.sleep(0.02)
            return
        self.wfile.write(rest)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client that gave up (timeout test) is expected
        pass


@pytest.fixture(scope="module")
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.lock = threading.Lock()
    srv.log, srv.hits = [], collections.Counter()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def url(server):
    server.log.clear()
    server.hits.clear()
    return lambda route: f"http://127.0.0.1:{server.server_address[1]}/{route}"


@pytest.fixture
def online(monkeypatch, tmp_path):
    """Downloads allowed (the suite is offline by default) into an empty KPRTRACK_WEIGHTS folder."""
    monkeypatch.delenv("KPRTRACK_OFFLINE", raising=False)
    folder = tmp_path / "weights"
    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(folder))
    return folder


def _entry(urls, name="toy", file="toy-abc.pth", **kw) -> WeightsEntry:
    return WeightsEntry(name=name, file=file, format="mmdet-yolox", arch="yolox_x", urls=list(urls), **kw)


def test_good_file_is_verified_then_renamed(tmp_path, url):
    dest = tmp_path / "sub" / "w.pth"
    got = fetch([url("good")], dest, Expected(sha256=SHA, size=len(PAYLOAD)), FAST)
    assert got.path == dest and got.sha256 == SHA and dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == ["w.pth", "w.pth.lock"]  # no .part left


def test_wrong_checksum_is_deleted_and_names_both_hashes(tmp_path, url):
    dest = tmp_path / "w.pth"
    with pytest.raises(ChecksumError) as err:
        fetch([url("wrong")], dest, Expected(sha256=SHA), FAST)
    assert SHA in str(err.value) and "expected" in str(err.value) and "found" in str(err.value)
    assert not dest.exists() and not (tmp_path / "w.pth.part").exists()
    with pytest.raises(ChecksumError, match="sha256 prefix mismatch: expected 00000000"):
        fetch([url("good")], dest, Expected(hash_prefix="00000000"), FAST)
    assert not dest.exists()
    assert fetch([url("good")], dest, Expected(hash_prefix=SHA[:8]), FAST).path.read_bytes() == PAYLOAD


def test_404_fails_at_once_and_the_next_url_is_tried(tmp_path, url, server):
    with pytest.raises(DownloadError) as err:
        fetch([url("404")], tmp_path / "w.pth", Expected(sha256=SHA), FAST)
    message = str(err.value)
    assert "HTTP 404" in message and url("404") in message and "\n" not in message
    assert server.hits["404"] == 1  # not retried
    assert fetch([url("404"), url("good")], tmp_path / "w.pth", Expected(sha256=SHA), FAST).path.is_file()


def test_truncated_download_gives_up_and_keeps_the_partial_file(tmp_path, url, server):
    dest = tmp_path / "w.pth"
    with pytest.raises(DownloadError, match="gave up after 2 attempts"):
        fetch([url("cut")], dest, Expected(sha256=SHA), FetchOptions(retries=2, backoff=0, progress="off"))
    part = tmp_path / "w.pth.part"
    assert not dest.exists() and part.is_file() and 0 < part.stat().st_size < len(PAYLOAD)
    assert server.log[1][1] is not None  # the second attempt asked for the rest only


def test_resume_after_a_cut_connection(tmp_path, url, server):
    dest = tmp_path / "w.pth"
    cut = int(len(PAYLOAD) * 0.4)
    # the first run is cut off and stops (one attempt); the partial file stays
    with pytest.raises(DownloadError):
        fetch([url("cut-once")], dest, Expected(sha256=SHA), FetchOptions(retries=1, progress="off"))
    assert (tmp_path / "w.pth.part").stat().st_size == cut
    # the next run asks only for the missing bytes and ends with the whole, verified file
    assert fetch([url("cut-once")], dest, Expected(sha256=SHA), FAST).path.read_bytes() == PAYLOAD
    assert server.log == [("cut-once", None), ("cut-once", f"bytes={cut}-")]


def test_a_server_ignoring_range_restarts_cleanly(tmp_path, url):
    (tmp_path / "w.pth.part").write_bytes(b"stale bytes")
    assert fetch([url("norange")], tmp_path / "w.pth", Expected(sha256=SHA), FAST).path.read_bytes() == PAYLOAD


def test_a_stale_partial_file_is_restarted_once_after_a_mismatch(tmp_path, url, server):
    (tmp_path / "w.pth.part").write_bytes(b"x" * 1000)  # not the start of this file: resuming gives a bad digest
    assert fetch([url("good")], tmp_path / "w.pth", Expected(sha256=SHA), FAST).path.read_bytes() == PAYLOAD
    assert server.log == [("good", "bytes=1000-"), ("good", None)]


def test_slow_server_times_out(tmp_path, url):
    options = FetchOptions(timeout=0.2, retries=2, backoff=0, progress="off")
    with pytest.raises(DownloadError, match="timed out|gave up"):
        fetch([url("slow")], tmp_path / "w.pth", Expected(sha256=SHA), options)
    assert not (tmp_path / "w.pth").exists()


def test_two_concurrent_downloads_end_with_one_good_file(tmp_path, url, server):
    dest = tmp_path / "w.pth"
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(fetch([url("drip")], dest, Expected(sha256=SHA), FAST).path)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and results == [dest, dest]
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "w.pth.part").exists()
    assert server.hits["drip"] == 1  # the second waited for the lock and found the finished file


def test_plain_progress_lines_when_not_a_terminal(tmp_path, url):
    import io

    stream = io.StringIO()
    options = FetchOptions(timeout=2, retries=1, progress="auto", progress_interval=0.0)
    fetch([url("good")], tmp_path / "w.pth", Expected(sha256=SHA), options, stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines and all(line.startswith("w.pth: ") and "MB" in line for line in lines)


def test_first_use_downloads_into_the_cache_and_remembers_the_digest(online, url, server, monkeypatch):
    manifest = {"toy": _entry([url("good")], sha256=SHA, size=len(PAYLOAD))}
    path = weights.ensure("toy", manifest, options=FAST)
    assert path == online / "toy-abc.pth" and path.read_bytes() == PAYLOAD
    assert str(path.resolve()) in (online / "verified.json").read_text()
    hashed = []
    monkeypatch.setattr(weights, "sha256_file", lambda p: hashed.append(p) or SHA)
    assert weights.ensure("toy", manifest, options=FAST) == path and server.hits["good"] == 1 and not hashed


def test_offline_never_touches_the_network(tmp_path, url, server, monkeypatch):
    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(tmp_path))
    manifest = {"toy": _entry([url("good")], sha256=SHA)}
    for offline_env in ("1", None):
        if offline_env is None:
            monkeypatch.delenv("KPRTRACK_OFFLINE")
        with weights.offline(offline_env is None), pytest.raises(WeightsUnavailableError) as err:
            weights.ensure("toy", manifest)
        message = str(err.value)
        assert "toy-abc.pth" in message and url("good") in message and "by hand" in message and "\n" not in message
    with weights.offline(), pytest.raises(WeightsUnavailableError, match="downloads are off"):
        weights.download("toy", manifest)
    assert server.hits["good"] == 0


def test_unwritable_cache_dir_gives_one_line_and_loading_still_works(tmp_path, url, monkeypatch):
    monkeypatch.delenv("KPRTRACK_OFFLINE")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")  # unwritable even for root
    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(blocker / "weights"))
    manifest = {"toy": _entry([url("good")], sha256=SHA)}
    with pytest.raises(WeightsUnavailableError) as err:
        weights.ensure("toy", manifest, options=FAST)
    assert "cannot write to" in str(err.value) and str(blocker) in str(err.value) and "\n" not in str(err.value)
    # shipped files are still found and checked; the digest just is not remembered
    assert weights.resolve("yolox_nano_synth_192x320").parent == weights.repo_weights_dir()


def test_a_file_with_the_wrong_checksum_is_never_returned(tmp_path, monkeypatch):
    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(tmp_path))
    (tmp_path / "toy-abc.pth").write_bytes(b"not the published file")
    manifest = {"toy": _entry(["http://127.0.0.1:9/never"], sha256=SHA)}
    with pytest.raises(ChecksumError) as err:
        weights.ensure("toy", manifest)
    assert f"expected {SHA}" in str(err.value) and "found " + hashlib.sha256(b"not the published file").hexdigest()[
        :16
    ] in str(err.value)
    with pytest.raises(ChecksumError):  # also when the file is named by its path
        weights.resolve(tmp_path / "toy-abc.pth", manifest)
    size_only = {"toy": _entry([], size=len(PAYLOAD))}
    with pytest.raises(ChecksumError, match=f"size mismatch: expected {len(PAYLOAD)} bytes"):
        weights.resolve("toy", size_only)


def test_shipped_file_check_is_cached_by_size_and_mtime(tmp_path, monkeypatch):
    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(tmp_path))
    calls = []
    real = weights.sha256_file
    monkeypatch.setattr(weights, "sha256_file", lambda p: calls.append(Path(p).name) or real(p))
    entry = weights.load_manifest()["yolox_nano_synth_192x320"]
    path = weights.resolve(entry.name)
    assert path.parent == weights.repo_weights_dir() and calls == [path.name]
    weights.resolve(entry.name)
    assert calls == [path.name]  # remembered in verified.json
    toy = tmp_path / "toy-abc.pth"
    toy.write_bytes(PAYLOAD)
    manifest = {"toy": _entry([], sha256=SHA)}
    weights.resolve("toy", manifest)
    weights.resolve("toy", manifest)
    assert calls.count("toy-abc.pth") == 1
    toy.write_bytes(PAYLOAD[::-1])  # same size, new content and mtime: checked again, and refused
    st = toy.stat()
    os.utime(toy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ChecksumError):
        weights.resolve("toy", manifest)
    assert calls.count("toy-abc.pth") == 2


def test_google_drive_folder_goes_through_gdown(tmp_path, monkeypatch):
    calls = []
    item = collections.namedtuple("GoogleDriveFileToDownload", "id path local_path")

    def download_folder(url, skip_download, quiet):
        calls.append(("folder", url, skip_download))
        return [item("id-other", "models/other.pth", ""), item("id-kpr", "models/kpr.pth.tar", "")]

    def download(id, output, quiet, resume):
        calls.append(("file", id, resume))
        Path(output).write_bytes(PAYLOAD)
        return output

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(download_folder=download_folder, download=download))
    folder = "https://drive.google.com/drive/folders/FOLDERID"
    got = fetch([folder], tmp_path / "kpr.pth.tar", Expected(sha256=SHA), FAST)
    assert got.path.read_bytes() == PAYLOAD
    assert calls == [("folder", folder, True), ("file", "id-kpr", True)]
    with pytest.raises(DownloadError, match="no file called missing.pth"):
        fetch([folder], tmp_path / "missing.pth", Expected(), FAST)
    monkeypatch.setitem(sys.modules, "gdown", None)  # not installed
    with pytest.raises(DownloadError, match=r"need the optional package gdown: pip install 'kprtrack\[gdrive\]'"):
        fetch(["https://drive.google.com/file/d/FILEID/view"], tmp_path / "x.pth", Expected(), FAST)


def test_manifest_records_urls_licences_and_hash_prefixes():
    manifest = weights.load_manifest()
    official = [e for e in manifest.values() if not e.shipped and e.name != "omz_reid_0287"]  # 0287: converted locally
    assert {e.name for e in official} == {
        "yolox_x_coco", "yolox_x_mmdet_coco", "hrnet_w32_posetrack18", "kpr_occ_posetrack_solider"
    }  # fmt: skip
    for entry in official:
        assert entry.urls and entry.licence, entry.name
        if entry.format in ("mmdet-yolox", "mmpose-topdown"):  # OpenMMLab names carry sha256[:8]
            assert entry.hash_prefix and f"-{entry.hash_prefix}" in entry.file and entry.hash_prefix in entry.urls[0]
    for entry in manifest.values():
        if entry.shipped:
            assert entry.sha256 and entry.size == (weights.repo_weights_dir() / entry.file).stat().st_size
    with pytest.raises(ValueError, match="hash_prefix"):
        _entry([], hash_prefix="XYZ")


def test_weights_download_cli(url, online, monkeypatch):
    from kprtrack.cli import main

    runner = CliRunner()
    help_text = runner.invoke(main, ["weights", "download", "--help"]).output
    for name in ("yolox_x_mmdet_coco", "hrnet_w32_posetrack18", "kpr_occ_posetrack_solider", "yolox_x_coco"):
        assert name in help_text
    assert "KPRTRACK_OFFLINE" in help_text and "KPRTRACK_WEIGHTS" in help_text and "--all" in help_text
    r = runner.invoke(main, ["weights", "download"])
    assert r.exit_code == 2 and "--all" in r.output
    manifest = {"toy": _entry([url("good")], sha256=SHA), "bad": _entry([url("404")], name="bad", file="bad.pth")}
    monkeypatch.setattr(weights, "load_manifest", lambda path=None: manifest)
    r = runner.invoke(main, ["weights", "download", "toy", "--quiet", "--retries", "1"])
    assert r.exit_code == 0 and "toy: downloaded" in r.output and (online / "toy-abc.pth").read_bytes() == PAYLOAD
    r = runner.invoke(main, ["weights", "download", "--all", "--quiet"])
    assert r.exit_code == 2 and "toy: present" in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("kprtrack: error:")]
    assert len(errors) == 1 and "HTTP 404" in errors[0] and "by hand" in errors[0] and "Traceback" not in r.output
    monkeypatch.setenv("KPRTRACK_OFFLINE", "1")
    (online / "toy-abc.pth").unlink()
    r = runner.invoke(main, ["weights", "download", "toy"])
    assert r.exit_code == 2 and "downloads are off" in r.output


def _frames(folder: Path) -> Path:
    import cv2
    import numpy as np

    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((64, 96, 3), 60 * i, np.uint8))
    return folder


def test_run_without_weights_and_network_gives_one_line_then_falls_back(tmp_path, monkeypatch):
    import kprtrack.run
    from kprtrack.cli import main
    from kprtrack.pipeline_config import configs_dir

    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(tmp_path / "empty"))
    frames = _frames(tmp_path / "frames")
    runner = CliRunner()
    out = tmp_path / "o.json"
    monkeypatch.setattr(kprtrack.run, "fallback_config", lambda: configs_dir() / "demo.yaml")  # stands in for `real`
    r = runner.invoke(main, ["run", str(frames), "--out", str(out), "--offline"])
    assert r.exit_code == 0, r.output
    notice = [line for line in r.output.splitlines() if "Falling back" in line]
    assert len(notice) == 1 and "by hand" in notice[0] and "https://" in notice[0] and ".pth" in notice[0]
    assert out.is_file() and "Traceback" not in r.output
    # an explicit --config never falls back; without a fallback config: one clear error line, exit 2
    for args, fallback in ((["--config", "kprtrack"], configs_dir() / "demo.yaml"), ([], None)):
        monkeypatch.setattr(kprtrack.run, "fallback_config", lambda fallback=fallback: fallback)
        r = runner.invoke(main, ["run", str(frames), "--out", str(out), *args])
        assert r.exit_code == 2 and r.output.count("kprtrack: error:") == 1 and "Traceback" not in r.output
        assert "KPRTRACK_OFFLINE" in r.output and "by hand" in r.output
    assert "No fallback config" in r.output


def test_pipeline_from_config_uses_the_same_checks(tmp_path, monkeypatch):
    from kprtrack import Pipeline

    monkeypatch.setenv("KPRTRACK_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="downloads are off"):
        Pipeline.from_config("kprtrack")
