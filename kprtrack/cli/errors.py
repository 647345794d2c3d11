"""Errors the commands report as one line (``Error: ...``) with exit status 2, without a traceback."""

from __future__ import annotations

import click


class CLIError(click.ClickException):
    """A user-facing failure: click prints ``Error: <message>`` to stderr and exits with status 2."""

    exit_code = 2
