"""``kprtrack serve``: the local "follow this person" web page."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, help="Port to listen on; 0 picks a free port.")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for uploads and results (kept). Default: a temporary folder removed when the server stops.",
)
@click.option("--config", default="demo", show_default=True, help="Pipeline config: a YAML file or a name in configs/.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a pipeline config key.")
@click.option("--max-upload-mb", default=200.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--max-frames", default=3000, show_default=True, type=click.IntRange(min=1), help="Longest video.")
def command(
    host: str,
    port: int,
    work_dir: Path | None,
    config: str,
    overrides: tuple[str, ...],
    max_upload_mb: float,
    max_frames: int,
) -> None:
    """Serve a local web page to follow a person in a video.

    Upload or choose a video, scrub to a frame, click on a person (shift-click on somebody to
    exclude), run, and watch the overlay with the followed person highlighted and the KPR part
    attention and visibility; download follow.json. Needs the web extra: pip install -e ".[web]".

    The page has no login: it listens on 127.0.0.1 unless --host says otherwise, answers only
    requests addressed to that host, and reads and writes files in its work dir only.
    """
    import shutil
    import signal
    import sys
    import tempfile

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        from kprtrack.follow.web.app import Settings, create_app
        from kprtrack.follow.web.server import bind_socket, is_loopback, make_server, url_of
    except ImportError as exc:
        raise click.ClickException(f'{exc.name} is not installed: pip install -e ".[web]"') from exc
    from kprtrack.config import ConfigError
    from kprtrack.pipeline_config import load_pipeline_config

    try:
        load_pipeline_config(config, list(overrides))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    temporary = work_dir is None
    folder = Path(tempfile.mkdtemp(prefix="kprtrack-serve-")) if temporary else work_dir
    url = url_of(sock)
    hosts = ["127.0.0.1", "localhost"] if is_loopback(host) else [host.strip("[]"), "127.0.0.1", "localhost"]
    settings = Settings(folder, config, list(overrides), max_upload_mb, max_frames, hosts)
    app = create_app(settings)
    if not is_loopback(host):
        click.echo(f"warning: listening on {host}: anybody who can reach it can use the page (no login)", err=True)
    click.echo(f"kprtrack follow page at {url}/  (work dir {folder}; Ctrl+C stops)")
    # uvicorn re-raises SIGTERM after shutting down: exit through Python then, so the cleanup below runs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        make_server(app, log_level="warning").run(sockets=[sock])
    finally:
        app.state.jobs.close()
        sock.close()
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
