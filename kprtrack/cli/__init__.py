"""The ``kprtrack`` command line.

Subcommands live in their own modules (``kprtrack/cli/<name>.py``, each defining a click command
called ``command``) and are imported only when invoked, so ``kprtrack --help`` stays fast. A
command module must import nothing heavy at module level: torch, cv2 and the models are
imported inside the command function.

Errors are reported in one place, :meth:`LazyGroup.invoke`, for every command: an error caused by the
user's input or environment (:class:`kprtrack.errors.KprtrackError`, ``OSError`` such as a full disk
or a permission problem, a ``click.ClickException``) is printed as one line
``kprtrack: error: <message>`` on stderr with exit status 2; Ctrl-C or SIGTERM exits 130 with one
line; anything else is a bug and keeps its traceback (status 1). ``--debug`` or ``KPRTRACK_DEBUG=1``
shows the traceback of every error.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import logging
import os
import signal
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import click

from kprtrack import __version__

#: name -> (module, one-line help). The help is shown by ``kprtrack --help`` without importing.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("kprtrack.cli.run", "Track people in a video and write PoseTrack21 predictions."),
    "batch": ("kprtrack.cli.batch", "Track many videos or sequences on Ray or a local process pool (resumable)."),
    "render": ("kprtrack.cli.render", "Draw tracks (boxes, skeletons, ids) over a video."),
    "demo": ("kprtrack.cli.demo", "Generate a synthetic clip, track it with the shipped weights, score and render."),
    "eval": ("kprtrack.cli.eval", "Score PoseTrack21 predictions (keypoint HOTA, IDs/MOTA, box metrics)."),
    "synth": ("kprtrack.cli.synth", "Generate synthetic multi-person videos with PoseTrack21 ground truth."),
    "weights": ("kprtrack.cli.weights", "List, verify and locate model weights."),
    "check-fixture": ("kprtrack.cli.check_fixture", "Run a model on a reference fixture folder and compare outputs."),
    "follow": ("kprtrack.cli.follow", "Follow one person, chosen by clicks on a frame, through a video."),
    "serve": ("kprtrack.cli.serve", "Local web page: click on a person in a video and follow them."),
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (module, _) in COMMANDS.items() if _available(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(COMMANDS[cmd_name][0]):
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; report user errors on one line (exit 2) and interruptions (exit 130)."""
        from kprtrack.errors import KprtrackError, one_line

        debug = bool(ctx.params.get("debug"))
        _route_warnings()
        # FFmpeg prints a line per damaged macroblock; kprtrack reports a bad frame itself (set it to see them)
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")
        try:
            with _terminate_as_interrupt():
                return super().invoke(ctx)
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            click.echo("kprtrack: interrupted", err=True)
            ctx.exit(130)
        except click.exceptions.UsageError:
            raise  # click prints the usage line; exit 2
        except click.ClickException as exc:
            if debug:
                raise
            click.echo(f"kprtrack: error: {' '.join(exc.format_message().split())}", err=True)
            ctx.exit(2)
        except (KprtrackError, OSError) as exc:
            if debug or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
                raise
            click.echo(f"kprtrack: error: {one_line(exc)}", err=True)
            ctx.exit(2)


class _EchoHandler(logging.Handler):
    """Print the package's warnings as ``kprtrack: warning: <message>`` on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"kprtrack: {record.levelname.lower()}: {record.getMessage()}", err=True)


def _route_warnings() -> None:
    logger = logging.getLogger("kprtrack")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        handler = _EchoHandler(logging.WARNING)
        logger.addHandler(handler)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises KeyboardInterrupt like Ctrl-C (outputs are finished or cleaned up)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="kprtrack")
@click.option(
    "--debug", is_flag=True, envvar="KPRTRACK_DEBUG", help="Show the full traceback of errors (or KPRTRACK_DEBUG=1)."
)
def main(debug: bool) -> None:
    """Online multi-person pose tracking with Keypoint Promptable Re-Identification (KPR).

    Per frame: YOLOX detects people, HRNet estimates their poses, the KPR encoder embeds each
    person into part features prompted by its keypoints, and a ByteTrack-style tracker links
    them over time. Run `kprtrack COMMAND --help` for the options of a command.
    """
