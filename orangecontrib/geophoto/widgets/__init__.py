"""Geo Photo: widgets that turn photos into places, maps and Google Earth files."""
import sysconfig

NAME = "Geo Photo"
DESCRIPTION = "Where photos were taken, what is in them, and maps of them."
ICON = "icons/category.svg"
BACKGROUND = "#9fd8d0"
PRIORITY = 1010  # right after Image Analytics (1000)

WIDGET_HELP_PATH = (
    # Editable installs: run `make doc` to build these.
    ("{DEVELOP_ROOT}/doc/_build/html/index.html", None),
    # Wheels carry the built help (see setup.py's documentation_files).
    (f"{sysconfig.get_path('data')}/help/orange3-geophoto/index.html", None),
)
