"""``kprtrack weights``: list, verify and locate model weights."""

from __future__ import annotations

import sys

import click


@click.group("weights")
def command() -> None:
    """Model weights known to kprtrack (weights/manifest.yaml)."""


@command.command("list")
def list_cmd() -> None:
    """List known weights and whether each file is present."""
    from kprtrack.weights import WeightsNotFoundError, load_manifest, resolve

    manifest = load_manifest()
    for entry in manifest.values():
        try:
            where = str(resolve(entry.name, manifest))
            status = "present"
        except WeightsNotFoundError:
            where, status = entry.source, "missing"
        tag = "shipped" if entry.shipped else "official"
        click.echo(f"{entry.name:32s} {status:8s} {tag:8s} {entry.format:15s} {entry.arch:22s} {where}")


@command.command("verify")
@click.argument("names", nargs=-1)
def verify_cmd(names: tuple[str, ...]) -> None:
    """Check that present weights match their sha256 and load; NAMES defaults to every entry (exit 2 on a problem)."""
    from kprtrack.checkpoints import load_checkpoint
    from kprtrack.weights import WeightsNotFoundError, load_manifest, resolve, sha256sum

    manifest = load_manifest()
    unknown = [n for n in names if n not in manifest]
    if unknown:
        raise click.ClickException(f"unknown weights: {', '.join(unknown)}")
    failed = False
    for name in names or tuple(manifest):
        entry = manifest[name]
        try:
            path = resolve(name, manifest)
        except WeightsNotFoundError:
            failed |= bool(names) or entry.shipped
            click.echo(f"{name}: missing ({'required' if entry.shipped else 'optional'}; source: {entry.source})")
            continue
        digest = sha256sum(path)
        if entry.sha256 and digest != entry.sha256:
            click.echo(f"{name}: SHA256 MISMATCH {digest} != {entry.sha256} ({path})")
            failed = True
            continue
        try:
            load_checkpoint(path)
        except Exception as exc:  # report every unreadable file, keep checking the others
            click.echo(f"{name}: does not load: {exc}")
            failed = True
            continue
        check = "sha256 ok" if entry.sha256 else "no sha256 recorded"
        click.echo(f"{name}: ok ({check}, {path})")
    sys.exit(2 if failed else 0)


@command.command("path")
@click.argument("name")
def path_cmd(name: str) -> None:
    """Print the resolved path of weights NAME (exit 2 with instructions if missing)."""
    from kprtrack.weights import resolve

    click.echo(str(resolve(name)))
