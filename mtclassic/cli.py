"""The ``mtclassic`` command line: ``demo``, ``train``, ``evaluate`` and ``score``.

Each command is a module of :mod:`mtclassic._commands` with an
``add_parser(subparsers)`` that declares its arguments and a ``run(args)``
that calls the package's Python API and prints; this module only assembles
them. Nothing here is needed to use mtclassic from Python.
"""

import argparse
import sys

from mtclassic import __version__
from mtclassic._commands import demo, evaluate, score, train

# re-exported: the exit status and scheduler timeout of `mtclassic score`
from mtclassic._commands.score import (  # noqa: F401
    EXIT_RECORD_ERRORS,
    SCHEDULER_TIMEOUT,
)

# command name -> its module, in the order --help lists them
_COMMANDS = {
    "demo": demo,
    "train": train,
    "evaluate": evaluate,
    "score": score,
}


def build_parser():
    """Return the argument parser of the ``mtclassic`` command."""
    parser = argparse.ArgumentParser(
        prog="mtclassic",
        description=(
            "Handwritten digit and letter recognition with classical machine "
            "learning (HOG features, SVM or random-forest heads, multi-task vote)."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"mtclassic {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _COMMANDS.values():
        command.add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    status = _COMMANDS[args.command].run(args)
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
