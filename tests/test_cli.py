import subprocess
import sys
import time

from click.testing import CliRunner

from kprtrack import __version__
from kprtrack.cli import COMMANDS, main


def test_help_lists_available_commands_quickly():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kprtrack", "--help"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    assert "Commands:" in out.stdout and "check-fixture" in out.stdout
    assert elapsed < 5  # a fresh interpreter; the import itself is far below a second
    # the help must not import heavy modules
    code = "import sys; from kprtrack.cli import main; print('torch' in sys.modules, 'cv2' in sys.modules)"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "False False"


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_every_available_command_has_help():
    runner = CliRunner()
    listed = main.list_commands(None)
    assert set(listed) <= set(COMMANDS)
    for name in listed:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_unknown_command():
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code != 0 and "No such command" in result.output
