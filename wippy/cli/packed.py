"""The entry point of a file ``wippy pack`` wrote: ``./app.pyz [ARGS]`` is ``wippy run APP
[ARGS]`` for the application packed inside; ``./app.pyz ps|top|stop|registry|workflow ...``
reach it as those commands do."""
from __future__ import annotations

import os
import sys

from .main import main as wippy_main
from .pack import PACKED_APP_DIR

__all__ = ["main", "packed_app_dir", "default_data_dir"]

_COMMANDS = ("ps", "top", "stop", "registry", "workflow")
_WITH_DATA = ("registry", "workflow")


def packed_app_dir() -> str:
    """The application's folder, where the zipapp's site-packages were unpacked."""
    import wippy
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(wippy.__file__))),
                        PACKED_APP_DIR)


def default_data_dir(archive: str) -> str:
    """``WIPPY_DATA_DIR``, else ``.wippy/data`` beside the zipapp file."""
    return os.environ.get("WIPPY_DATA_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(archive)), ".wippy", "data")


def main() -> None:
    """Run the packed application (exits with its exit code)."""
    argv = sys.argv[1:]
    app = packed_app_dir()
    data = ["--data-dir", default_data_dir(sys.argv[0])]
    if argv and argv[0] in _COMMANDS:
        cmd, rest = argv[0], argv[1:]
        sys.exit(wippy_main([cmd, app, *(data if cmd in _WITH_DATA else []), *rest]))
    sys.exit(wippy_main(["run", app, *data, *argv]))
