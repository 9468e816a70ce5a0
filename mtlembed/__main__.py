"""The `mtlembed` command, also run as `python -m mtlembed`.

Apart from cli.py so that nothing of the package loads before `main` is in its `try`:
a Ctrl-C at any moment of start-up (while numpy and the compiled kernel load, or
while the arguments are parsed) ends the run with one line and exit 130, never a
traceback.
"""

import sys


def main(argv=None) -> int:
    try:
        from .cli import main as run

        return run(argv)
    except KeyboardInterrupt:
        print("mtlembed: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
