"""The ``kprtrack`` command line.

Subcommands live in their own modules (``kprtrack/cli/<name>.py``, each defining a click command
called ``command``) and are imported only when invoked, so ``kprtrack --help`` stays fast. A
command module must import nothing heavy at module level: torch, cv2 and the models are
imported inside the command function.
"""

from __future__ import annotations

import importlib
import importlib.util

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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="kprtrack")
def main() -> None:
    """Online multi-person pose tracking with Keypoint Promptable Re-Identification (KPR).

    Per frame: YOLOX detects people, HRNet estimates their poses, the KPR encoder embeds each
    person into part features prompted by its keypoints, and a ByteTrack-style tracker links
    them over time. Run `kprtrack COMMAND --help` for the options of a command.
    """
