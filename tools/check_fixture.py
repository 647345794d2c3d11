#!/usr/bin/env python
"""Run a model on a reference fixture folder and compare with its expected.npz.

Usage: ``python tools/check_fixture.py {kpr,yolox,hrnet} FIXTURE_DIR [--out outputs.npz]``
(the same as ``kprtrack check-fixture``).
"""

import sys

from kprtrack.cli import main

if __name__ == "__main__":
    # through the `kprtrack` group: one-line errors with exit status 2, like `kprtrack check-fixture`
    main(args=["check-fixture", *sys.argv[1:]], prog_name="check_fixture.py")
