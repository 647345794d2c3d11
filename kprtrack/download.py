"""Fetching one file safely: HTTP Range resume, retries with backoff, timeouts, a lock, checksums, atomic rename.

:func:`fetch` downloads ``dest`` from a list of URLs (tried in order). The bytes go to
``<dest>.part`` in the destination folder; a connection that breaks leaves that partial file in
place and the next attempt asks the server for the rest (``Range: bytes=N-``). Once complete, the
file's size and sha256 (or the sha256 prefix carried by OpenMMLab file names) are checked, and only
then is it renamed onto ``dest`` with :func:`os.replace`, so ``dest`` is either absent or whole and
verified. A lock file (``<dest>.lock``, :mod:`filelock`) serialises concurrent downloads of the same
file: a second process waits, then finds the finished file and returns it.

Google Drive URLs are fetched with the optional `gdown <https://github.com/wkentaro/gdown>`_
package (imported only when such a URL is used). Nothing here touches the network at import time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple
from urllib.parse import parse_qs, urlparse

from kprtrack.errors import KprtrackError


class DownloadError(KprtrackError, OSError):
    """A file could not be downloaded; the message (one line) says which file, from where and why.

    Attributes:
        failures: ``(url, reason)`` for each URL tried (empty when no URL was tried).
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)

    def __str__(self) -> str:
        return str(self.args[0])


class ChecksumError(KprtrackError, ValueError):
    """A file's size or sha256 differs from the expected one; the message names both values.

    Attributes:
        path: the file checked.
        what: ``"size"``, ``"sha256"`` or ``"sha256 prefix"``.
        expected: the expected value (a sha256, a sha256 prefix or a size in bytes).
        found: the value found.
    """

    def __init__(self, path: str | os.PathLike[str], what: str, expected: str, found: str) -> None:
        self.path, self.what, self.expected, self.found = Path(path), what, expected, found
        super().__init__(f"{path}: {what} mismatch: expected {expected}, found {found}")


@dataclass(frozen=True)
class Expected:
    """What a downloaded file must match (every field optional).

    Attributes:
        sha256: full hex digest.
        hash_prefix: leading hex characters of the sha256 (OpenMMLab file names carry the first 8).
        size: size in bytes.
    """

    sha256: str | None = None
    hash_prefix: str | None = None
    size: int | None = None

    @property
    def needs_hash(self) -> bool:
        """Whether checking needs the file's sha256."""
        return bool(self.sha256 or self.hash_prefix)

    def describe(self) -> str:
        """What is checked, in words (for listings)."""
        parts = []
        if self.sha256:
            parts.append("sha256")
        elif self.hash_prefix:
            parts.append(f"sha256 prefix {self.hash_prefix}")
        if self.size is not None:
            parts.append(f"size {self.size}")
        return " + ".join(parts) if parts else "nothing (no checksum recorded)"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_file(path: str | os.PathLike[str], expected: Expected, digest: str | None = None) -> str | None:
    """Check a file against ``expected``: size first (cheap), then sha256 or its prefix.

    Args:
        path: the file.
        expected: what it must match.
        digest: its sha256 if already known (e.g. from a cache), to avoid hashing again.

    Returns:
        The file's sha256 when it was needed (computed or given), else ``None``.

    Raises:
        ChecksumError: naming the expected and the found value.
    """
    if expected.size is not None:
        size = os.path.getsize(path)
        if size != expected.size:
            raise ChecksumError(path, "size", f"{expected.size} bytes", f"{size} bytes")
    if not expected.needs_hash:
        return digest
    digest = digest or sha256_file(path)
    if expected.sha256 and digest != expected.sha256.lower():
        raise ChecksumError(path, "sha256", expected.sha256, digest)
    if expected.hash_prefix and not digest.startswith(expected.hash_prefix.lower()):
        raise ChecksumError(path, "sha256 prefix", expected.hash_prefix, digest)
    return digest


@dataclass(frozen=True)
class FetchOptions:
    """How hard to try.

    Attributes:
        timeout: seconds to wait for the connection and for each read from the server.
        retries: attempts per URL (a broken transfer resumes from the partial file).
        backoff: seconds to wait after the first failed attempt; doubled after each further one
            (at most 30 s).
        lock_timeout: seconds to wait for another process downloading the same file.
        progress: ``"auto"`` (a bar on a terminal, a plain line every ``progress_interval``
            seconds otherwise), ``"bar"``, ``"lines"`` or ``"off"``.
        progress_interval: seconds between plain progress lines.
        chunk_size: bytes read at a time.
    """

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    lock_timeout: float = 3600.0
    progress: str = "auto"
    progress_interval: float = 10.0
    chunk_size: int = 1 << 20

    def __post_init__(self) -> None:
        if self.progress not in ("auto", "bar", "lines", "off"):
            raise ValueError(f"progress must be auto, bar, lines or off, got {self.progress!r}")
        if self.retries < 1:
            raise ValueError(f"retries must be at least 1, got {self.retries}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")


class Fetched(NamedTuple):
    """A verified download: its path and, when the check needed it, its sha256."""

    path: Path
    sha256: str | None


class _Retry(Exception):
    """A failure worth another attempt at the same URL (connection lost, timeout, 5xx)."""


class _Fatal(Exception):
    """A failure that another attempt at the same URL will not fix (404, wrong file, no gdown)."""


class _Progress:
    """A byte counter shown as a tqdm bar on a terminal or as periodic plain lines elsewhere."""

    def __init__(self, name: str, mode: str, stream: IO[str], interval: float) -> None:
        if mode == "auto":
            mode = "bar" if getattr(stream, "isatty", lambda: False)() else "lines"
        self.name, self.mode, self.stream, self.interval = name, mode, stream, interval
        self.done, self.total = 0, None
        self._bar = None
        self._last = time.monotonic()

    def start(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        if self.mode == "bar":
            from tqdm import tqdm

            self.close()
            self._bar = tqdm(
                total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024, desc=self.name,
                file=self.stream, dynamic_ncols=True, leave=False,
            )  # fmt: skip
        elif self.mode == "lines":
            self._line("resuming at" if done else "starting")

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines" and time.monotonic() - self._last >= self.interval:
            self._line("downloaded")

    def _line(self, verb: str) -> None:
        of = f" of {self.total / 1e6:.1f} MB" if self.total else ""
        self.stream.write(f"{self.name}: {verb} {self.done / 1e6:.1f} MB{of}\n")
        self.stream.flush()
        self._last = time.monotonic()

    def finish(self) -> None:
        """Report the end of a successful transfer (plain-line mode)."""
        if self.mode == "lines" and self.done:
            self._line("finished,")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def is_google_drive(url: str) -> bool:
    """Whether ``url`` points into Google Drive (fetched with gdown)."""
    return urlparse(url).netloc in ("drive.google.com", "docs.google.com")


def google_drive_file_id(url: str) -> str | None:
    """The file id of a Google Drive file URL (``/file/d/ID/...`` or ``?id=ID``); ``None`` for a folder."""
    match = re.search(r"/file/d/([\w-]+)", url)
    if match:
        return match.group(1)
    ids = parse_qs(urlparse(url).query).get("id")
    return ids[0] if ids else None


@contextlib.contextmanager
def _locked(lock_path: Path, timeout: float) -> Iterator[None]:
    from filelock import FileLock, Timeout

    try:
        lock = FileLock(str(lock_path), timeout=timeout)
        lock.acquire()
    except Timeout as exc:
        raise DownloadError(
            f"another process has held {lock_path} for {timeout:.0f} s; try again later or delete that lock file"
        ) from exc
    except OSError as exc:
        raise DownloadError(f"cannot write to {lock_path.parent}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()


def _prepare_dir(folder: Path) -> None:
    """Create ``folder`` and check that files can be created in it (fails early, naming it)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DownloadError(f"cannot write to {folder}: {exc.strerror or exc}") from exc


def fetch(
    urls: Sequence[str],
    dest: str | os.PathLike[str],
    expected: Expected | None = None,
    options: FetchOptions | None = None,
    stream: IO[str] | None = None,
) -> Fetched:
    """Download ``dest`` from the first URL that works, verify it, and move it into place atomically.

    Args:
        urls: URLs tried in order (HTTP(S) with Range resume; Google Drive via gdown).
        dest: the final file; its folder is created if needed.
        expected: size / sha256 / sha256 prefix the file must match (unchecked fields are ``None``).
        options: timeouts, retries, progress.
        stream: where progress goes (default ``sys.stderr``).

    Returns:
        ``dest`` and its sha256 (``None`` when ``expected`` holds no digest to check).

    Raises:
        DownloadError: every URL failed (network, HTTP status, unwritable folder, gdown missing);
            one line naming the file and each URL's failure.
        ChecksumError: the downloaded bytes do not match ``expected`` (nothing is kept).
    """
    dest = Path(dest)
    expected = expected or Expected()
    options = options or FetchOptions()
    stream = stream if stream is not None else sys.stderr
    if not urls:
        raise DownloadError(f"no download URL is known for {dest.name}")
    _prepare_dir(dest.parent)
    with _locked(dest.with_name(dest.name + ".lock"), options.lock_timeout):
        if dest.is_file():  # another process finished it while we waited (or it was already there)
            return Fetched(dest, check_file(dest, expected))
        part = dest.with_name(dest.name + ".part")
        failures: list[tuple[str, str]] = []
        mismatch: ChecksumError | None = None
        for url in urls:
            try:
                digest = _fetch_one(url, part, dest.name, expected, options, stream)
            except _Fatal as exc:
                failures.append((url, str(exc)))
                continue
            except ChecksumError as exc:
                mismatch = ChecksumError(dest, exc.what, exc.expected, exc.found)
                failures.append((url, str(mismatch)))
                continue
            os.replace(part, dest)
            return Fetched(dest, digest)
        if mismatch is not None and len(failures) == 1:
            raise mismatch
        reasons = "; ".join(f"{u}: {why}" for u, why in failures)
        raise DownloadError(f"could not download {dest.name}: {reasons}", failures)


def _fetch_one(
    url: str, part: Path, name: str, expected: Expected, options: FetchOptions, stream: IO[str]
) -> str | None:
    """Download ``url`` into ``part`` (resuming) and check it.

    Returns:
        The file's sha256 when the check needed it, else ``None``.

    Raises:
        _Fatal: this URL cannot deliver the file (after ``options.retries`` attempts, or at once).
        ChecksumError: the complete file does not match (the partial file is deleted).
    """
    progress = _Progress(name, options.progress, stream, options.progress_interval)
    restarted = False
    attempt = 0
    last = ""
    try:
        while attempt < options.retries:
            attempt += 1
            resumed = part.is_file() and part.stat().st_size > 0
            try:
                if is_google_drive(url):
                    _gdrive_get(url, part, name, quiet=options.progress == "off")
                else:
                    _http_get(url, part, expected, options, progress)
            except _Retry as exc:
                last = str(exc)
                if attempt < options.retries:
                    time.sleep(min(options.backoff * 2 ** (attempt - 1), 30.0))
                continue
            try:
                digest = check_file(part, expected)
            except ChecksumError:
                part.unlink(missing_ok=True)  # a complete but wrong file cannot be resumed
                if resumed and not restarted:  # the kept partial file may have been stale: start over once
                    restarted = True
                    attempt -= 1
                    continue
                raise
            progress.finish()
            return digest
        raise _Fatal(f"gave up after {options.retries} attempts ({last})")
    finally:
        progress.close()


def _http_get(url: str, part: Path, expected: Expected, options: FetchOptions, progress: _Progress) -> None:
    """One HTTP attempt: append the rest of the file to ``part``; raises _Retry / _Fatal."""
    import requests

    from kprtrack import __version__

    offset = part.stat().st_size if part.is_file() else 0
    if expected.size is not None and offset > expected.size:
        part.unlink()
        offset = 0
    headers = {"User-Agent": f"kprtrack/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with requests.get(url, headers=headers, stream=True, timeout=(options.timeout, options.timeout)) as r:
            if r.status_code == 416 and offset:  # nothing left to send: the partial file is already whole
                return
            if r.status_code >= 400:
                reason = f"HTTP {r.status_code} {r.reason or ''}".strip()
                if r.status_code in (408, 425, 429) or r.status_code >= 500:
                    raise _Retry(reason)
                raise _Fatal(reason)
            mode = "ab"
            if offset and r.status_code == 206:
                start = _content_range_start(r.headers.get("Content-Range", ""))
                if start != offset:
                    part.unlink()
                    raise _Retry(f"server resumed at byte {start}, not {offset}")
            elif offset:  # 200: the server ignored the Range header and sends everything again
                offset, mode = 0, "wb"
            length = r.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else expected.size
            progress.start(offset, total)
            # keep every byte that arrived before a cut (urllib3 would otherwise drop the last read when it
            # raises on a short body); the length is checked below and the rest is fetched with Range
            r.raw.enforce_content_length = False
            with open(part, mode) as f:
                for chunk in r.iter_content(options.chunk_size):
                    f.write(chunk)
                    progress.update(len(chunk))
                f.flush()
                os.fsync(f.fileno())
    except (_Retry, _Fatal):
        raise
    except requests.exceptions.ConnectionError as exc:
        if _no_such_host(exc):
            raise _Fatal(f"cannot resolve host {urlparse(url).netloc} (no network?)") from exc
        raise _Retry(f"connection failed: {_short(exc)}") from exc
    except (requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
        raise _Retry(f"connection lost or timed out: {_short(exc)}") from exc
    except requests.exceptions.RequestException as exc:
        raise _Fatal(_short(exc)) from exc
    got = part.stat().st_size
    if total is not None and got < total:
        raise _Retry(f"connection closed after {got} of {total} bytes")


def _content_range_start(value: str) -> int | None:
    match = re.match(r"bytes (\d+)-", value.strip())
    return int(match.group(1)) if match else None


def _no_such_host(exc: BaseException) -> bool:
    """Whether a requests connection error was caused by a failed host name lookup (no network)."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    text = str(exc)
    return type(reason).__name__ == "NameResolutionError" or any(
        s in text for s in ("Name or service not known", "name resolution", "nodename nor servname")
    )


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _gdrive_get(url: str, part: Path, name: str, quiet: bool) -> None:
    """Fetch a Google Drive file (a file URL, or a folder URL holding a file called ``name``) into ``part``."""
    try:
        import gdown
    except ImportError as exc:
        raise _Fatal("Google Drive downloads need the optional package gdown: pip install 'kprtrack[gdrive]'") from exc
    file_id = google_drive_file_id(url)
    try:
        if file_id is None:  # a shared folder: list it (no download) and pick the file by name
            listing = gdown.download_folder(url=url, skip_download=True, quiet=True) or []
            ids = [f.id for f in listing if Path(f.path).name == name]
            if not ids:
                raise _Fatal(f"the Google Drive folder holds no file called {name}")
            file_id = ids[0]
        out = gdown.download(id=file_id, output=str(part), quiet=quiet, resume=True)
    except _Fatal:
        raise
    except Exception as exc:  # gdown raises its own classes and requests' ones, varying across versions
        if _no_such_host(exc):
            raise _Fatal(f"cannot resolve host {urlparse(url).netloc} (no network?)") from exc
        raise _Retry(f"Google Drive: {_short(exc)}") from exc
    if out is None or not part.is_file():
        raise _Retry("Google Drive download did not complete")
