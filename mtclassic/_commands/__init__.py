"""One module per ``mtclassic`` command: ``add_parser(subparsers)`` declares
its arguments, ``run(args)`` parses what is left to parse, calls the library
and prints. :mod:`mtclassic.cli` assembles them; nothing here is needed to
use mtclassic from Python."""
