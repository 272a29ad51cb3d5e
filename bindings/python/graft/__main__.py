"""`python -m graft` (and the `graft` script a wheel installs): the graft command.

It runs the command built with the library, so that Python, C and the shell
share one implementation: the executable the wheel carries next to the package
(graft/bin/graft), else the release build of the checkout this package sits in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ._lib import CHECKOUT_BUILD, PACKAGE_DIR

COMMAND_CANDIDATES = (PACKAGE_DIR / "bin" / "graft", CHECKOUT_BUILD / "graft-cli")


def command_path() -> Path:
    """The graft executable this package runs, or FileNotFoundError naming where it looked."""
    for candidate in COMMAND_CANDIDATES:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    looked = ", ".join(str(c) for c in COMMAND_CANDIDATES)
    raise FileNotFoundError(f"graft: the graft command was not found at {looked}; install the wheel "
                            "(make wheel) or build the checkout (make build)")


def main() -> None:
    """Replace this process with the graft command, passing the arguments on."""
    try:
        command = command_path()
    except FileNotFoundError as error:
        sys.exit(str(error))
    os.execv(command, ["graft", *sys.argv[1:]])


if __name__ == "__main__":
    main()
