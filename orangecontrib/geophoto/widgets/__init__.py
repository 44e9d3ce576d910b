"""Geo Photo: widgets that turn photos into places, maps and Google Earth files."""
import os
import sysconfig

NAME = "Geo Photo"
DESCRIPTION = "Where photos were taken, what is in them, and maps of them."
ICON = "icons/category.svg"
BACKGROUND = "#9fd8d0"
PRIORITY = 1010  # right after Image Analytics (1000)

# A source checkout's built help (`make doc`), found from this file: the canvas' own
# {DEVELOP_ROOT} is missed when Orange starts in the checkout, where the egg-info that
# `pip install -e` leaves there shadows the installed metadata.
_CHECKOUT_HELP = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "doc", "_build", "html",
    "index.html"))

WIDGET_HELP_PATH = (
    (_CHECKOUT_HELP, None),
    ("{DEVELOP_ROOT}/doc/_build/html/index.html", None),
    # Wheels carry the built help (see setup.py's documentation_files).
    (f"{sysconfig.get_path('data')}/help/orange3-geophoto/index.html", None),
)
