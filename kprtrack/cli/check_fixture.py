"""``kprtrack check-fixture``: run a model on a reference fixture folder and compare with expected.npz."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("check-fixture")
@click.argument("mode", type=click.Choice(["kpr", "yolox", "hrnet"]))
@click.argument("fixture_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write every computed output here (.npz).")
@click.option("--quiet", is_flag=True, help="Print only failures and the summary line.")
def command(mode: str, fixture_dir: Path, out: Path | None, quiet: bool) -> None:
    """Load FIXTURE_DIR's checkpoint and inputs.npz, run the full MODE path and write/compare outputs.

    FIXTURE_DIR is laid out like ../shared/fixtures/<mode>_reference/. When it holds expected.npz,
    the max abs difference of every key is printed and the exit status is 1 if any key exceeds
    the tolerance stated by the fixture's README.
    """
    import numpy as np

    from kprtrack.fixture_check import compare, run_mode

    try:
        outputs = run_mode(mode, fixture_dir)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from exc
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, **{k: np.asarray(v) for k, v in outputs.arrays.items()})
        click.echo(f"wrote {len(outputs.arrays)} outputs to {out}")
    expected = fixture_dir / "expected.npz"
    if not expected.is_file():
        click.echo("no expected.npz in the fixture folder: nothing to compare")
        return
    rows = compare(outputs, expected)
    failed = [r for r in rows if not r.ok]
    for r in rows:
        if quiet and r.ok:
            continue
        status = "ok  " if r.ok else "FAIL"
        click.echo(f"{status} {r.key:40s} max|diff|={r.max_abs_diff:.3g} tol={r.tolerance:.3g} {r.note}")
    click.echo(f"{len(rows) - len(failed)}/{len(rows)} keys within tolerance")
    if failed:
        sys.exit(1)
