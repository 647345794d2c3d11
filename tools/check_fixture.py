#!/usr/bin/env python
"""Run a model on a reference fixture folder and compare with its expected.npz.

Usage: ``python tools/check_fixture.py {kpr,yolox,hrnet} FIXTURE_DIR [--out outputs.npz]``
(the same as ``kprtrack check-fixture``).
"""

from kprtrack.cli.check_fixture import command

if __name__ == "__main__":
    command()
