"""``kprtrack weights``: list, verify, locate and download model weights."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("weights")
def command() -> None:
    """Model weights known to kprtrack (weights/manifest.yaml).

    Files are looked for in $KPRTRACK_WEIGHTS (if set), the user cache (~/.cache/kprtrack/weights
    on Linux) and the repository's weights/ folder. Official files are downloaded there on first
    use; see `kprtrack weights download --help`.
    """


@command.command("list")
def list_cmd() -> None:
    """List known weights, whether each file is present, and where it is (or where it comes from)."""
    from kprtrack.weights import cache_dir, find, load_manifest

    click.echo(f"download folder: {cache_dir()}")
    for entry in load_manifest().values():
        path = find(entry)
        where, status = (str(path), "present") if path is not None else (entry.url, "missing")
        tag = "shipped" if entry.shipped else "official"
        click.echo(f"{entry.name:32s} {status:8s} {tag:8s} {entry.format:15s} {entry.arch:22s} {where}")


@command.command("verify")
@click.argument("names", nargs=-1)
def verify_cmd(names: tuple[str, ...]) -> None:
    """Check that present weights match their size/sha256 and load; NAMES defaults to every entry.

    Every file is hashed again (the remembered digests are refreshed). Exits with status 2 when a
    named or shipped file is missing, or any present file fails.
    """
    from kprtrack.checkpoints import load_checkpoint
    from kprtrack.cli.errors import CLIError
    from kprtrack.download import ChecksumError
    from kprtrack.weights import find, load_manifest, verify_weights

    manifest = load_manifest()
    unknown = [n for n in names if n not in manifest]
    if unknown:
        raise CLIError(f"unknown weights: {', '.join(unknown)}")
    failed = False
    for name in names or tuple(manifest):
        entry = manifest[name]
        path = find(entry)
        if path is None:
            failed |= bool(names) or entry.shipped
            click.echo(f"{name}: missing ({'required' if entry.shipped else 'optional'}; source: {entry.url})")
            continue
        try:
            verify_weights(entry, path, use_cache=False)
        except ChecksumError as exc:
            click.echo(f"{name}: MISMATCH {exc}")
            failed = True
            continue
        try:
            load_checkpoint(path)
        except Exception as exc:  # report every unreadable file, keep checking the others
            click.echo(f"{name}: does not load: {exc}")
            failed = True
            continue
        click.echo(f"{name}: ok (checked: {entry.expected.describe()}; {path})")
    sys.exit(2 if failed else 0)


@command.command("path")
@click.argument("name")
def path_cmd(name: str) -> None:
    """Print the resolved path of weights NAME (exit 2 with instructions if missing or corrupt)."""
    from kprtrack.weights import resolve

    click.echo(str(resolve(name)))


@command.command("download")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Every manifest entry that has a download URL (the official files).")
@click.option(
    "--dir",
    "dest_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Download into this folder instead (kprtrack finds files there only if KPRTRACK_WEIGHTS names it).",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait to connect and per read.")
@click.option(
    "--retries",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Attempts per URL; 1, 2, 4... s apart; each resumes the partial file.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def download_cmd(
    names: tuple[str, ...], all_: bool, dest_dir: Path | None, timeout: float, retries: int, quiet: bool
) -> None:
    """Download official weights NAME... (or --all), verify them and store them in the cache.

    \b
    Official NAMEs (weights/manifest.yaml; the paper's setting uses the first three):
      yolox_x_mmdet_coco         mmdet YOLOX-x COCO detector (OpenMMLab, Apache-2.0)
      hrnet_w32_posetrack18      mmpose HRNet-W32 PoseTrack18 256x192 (OpenMMLab, Apache-2.0)
      kpr_occ_posetrack_solider  KPR SOLIDER Occluded-PoseTrack-ReID (Google Drive, HL3 licence)
      yolox_x_coco               Megvii YOLOX-x COCO, alternative detector (GitHub, Apache-2.0)

    \b
    Where: into $KPRTRACK_WEIGHTS if set, else the user cache folder
      (platformdirs: ~/.cache/kprtrack/weights on Linux, $XDG_CACHE_HOME respected),
      or --dir. `kprtrack weights list` prints the folder and each file's state.
    How: bytes go to <file>.part in that folder; a broken transfer is retried and
      resumed (HTTP Range); a lock file lets concurrent runs share one download; the
      file gets its final name only after its checksum matches. The manifest's sha256
      is checked where a public record exists, else the sha256 prefix that OpenMMLab
      puts in its file names (-1ef88d67), and the size when known; a file that does
      not match is deleted and never loaded. Files with no checksum on record (the
      Megvii and KPR releases) are checked for a complete transfer only.
    Google Drive (the KPR release) needs the optional package gdown:
      pip install 'kprtrack[gdrive]'.
    A progress bar is shown on a terminal, a plain line every 10 s otherwise.

    \b
    First use: `kprtrack run` and Pipeline.from_config download a missing official
    file the same way, unless `kprtrack run --offline` or KPRTRACK_OFFLINE=1 (which
    also makes this command refuse to download).

    \b
    By hand (no network): download the URL shown by `kprtrack weights list` and
    put the file, under its manifest name, in the cache folder above or in a folder
    named by KPRTRACK_WEIGHTS; `kprtrack weights verify NAME` then checks it.

    Already present and verified files are not downloaded again. Exits with status 2
    (one line per failure) if any file could not be downloaded or verified.
    """
    from kprtrack.cli.errors import CLIError
    from kprtrack.download import ChecksumError, FetchOptions
    from kprtrack.weights import WeightsNotFoundError, cache_dir, download, find, load_manifest, verify_weights

    manifest = load_manifest()
    if all_ and names:
        raise click.UsageError("give NAME... or --all, not both")
    if not all_ and not names:
        raise click.UsageError("name the weights to download (see `kprtrack weights list`) or pass --all")
    unknown = [n for n in names if n not in manifest]
    if unknown:
        raise CLIError(f"unknown weights: {', '.join(unknown)} (known: {', '.join(sorted(manifest))})")
    chosen = [e for e in manifest.values() if e.urls] if all_ else [manifest[n] for n in names]
    options = FetchOptions(timeout=timeout, retries=retries, progress="off" if quiet else "auto")
    target = dest_dir if dest_dir is not None else cache_dir()
    failures = 0
    for entry in chosen:
        try:
            present = find(entry) if dest_dir is None else target / entry.file
            if present is not None and present.is_file():
                verify_weights(entry, present)
                click.echo(f"{entry.name}: present ({present})")
                continue
            if not entry.urls:
                raise CLIError(f"weights '{entry.name}' have no download URL ({entry.source})")
            path = download(entry.name, manifest, dest_dir=target, options=options)
            click.echo(f"{entry.name}: downloaded ({path}; checked: {entry.expected.describe()})")
        except (WeightsNotFoundError, ChecksumError, CLIError) as exc:
            failures += 1
            click.echo(f"kprtrack: error: {exc.message if isinstance(exc, CLIError) else exc}", err=True)
    if failures:
        sys.exit(2)
