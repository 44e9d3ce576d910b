"""Pieces shared by the widgets: the image column (EXIF Geotag, Local Embedder), paths
relative to the workflow (EXIF Geotag's GPX file, Write Geotags' folder) and long runs with
a Cancel button, progress in words in the Info box and messages that fit (every widget with
long work)."""
import os
import time
from typing import NamedTuple, Optional

from AnyQt.QtWidgets import QStyle

from Orange.data import DiscreteVariable, StringVariable
from Orange.widgets import gui
from Orange.widgets.utils.itemmodels import DomainModel
from Orange.widgets.utils.localization import pl

from orangecontrib.geophoto.tables import find_image_column, image_column_candidates


def image_column_combo(widget, parent):
    """The "Image column" box bound to ``widget.image_var`` (a ContextSetting)."""
    widget.image_model = DomainModel(DomainModel.METAS,
                                     valid_types=(StringVariable, DiscreteVariable))
    return gui.comboBox(parent, widget, "image_var", box="Image column",
                        model=widget.image_model, callback=widget.commit.deferred)


def set_image_data(widget, data):
    """Input handler body: new data, its image column (Import Images' first), the
    no-image-column error, and the stored choice for this domain."""
    widget.closeContext()
    widget.data = data
    widget.image_model.set_domain(data.domain if data is not None else None)
    candidates = image_column_candidates(data)
    widget.image_var = find_image_column(data) if data is not None else None
    widget.Error.no_image_column(shown=data is not None and not candidates)
    if data is not None and candidates:
        widget.openContext(data)


def workflow_path(widget, path: str) -> str:
    """``path`` as typed, with ``~`` expanded; a relative one is relative to the folder of
    the widget's workflow, so an example workflow finds its files wherever it is installed."""
    path = os.path.expanduser(path.strip())
    basedir = widget.workflowEnv().get("basedir")
    if path and not os.path.isabs(path) and basedir:
        path = os.path.join(basedir, path)
    return path


# Messages are one short sentence (about 30 characters; details go after a newline, shown
# on hover, or in the Info box). The message bar has room for this many characters, so
# that sentence and the bar's mark for details fit at the widget's default size.
MESSAGE_CHARS = 36


def leave_room_for_messages(widget):
    """Widen the control area so that a message of ``MESSAGE_CHARS`` characters fits the
    message bar at the widget's default size (the status bar's buttons and signal icons
    take about 170 px beside it). A widget the user can not resize keeps that width: a long
    text in its Info box wraps instead of widening it."""
    area = widget.controlArea
    width = max(MESSAGE_CHARS * widget.fontMetrics().averageCharWidth() + 170,
                area.minimumWidth(), area.minimumSizeHint().width())
    if widget.resizing_enabled:
        area.setMinimumWidth(width)
    else:
        area.setFixedWidth(width)


class Progress(NamedTuple):
    """What a running task reports to the Info box (a partial result)."""
    stage: str                       # "Embedding", "Cross-validating", ...
    fraction: float
    done: int = 0                    # items done, when the work counts items
    total: int = 0
    seconds_left: Optional[float] = None


def progress_at(stage: str, fraction: float, total: int = 0, elapsed: float = 0.0) -> Progress:
    """The progress after ``elapsed`` seconds, with an estimate of the time left once
    there is one to trust (2% done, a second gone)."""
    left = elapsed / fraction * (1 - fraction) if fraction > 0.02 and elapsed > 1 else None
    return Progress(stage, fraction, min(total, int(round(fraction * total))), total, left)


def time_left(seconds: float) -> str:
    """'about 40 s left', 'about 3 min left', 'about 1 h 5 min left': as a person says it."""
    seconds = max(1, int(round(seconds)))
    if seconds < 10:
        rough = f"{seconds} s"
    elif seconds < 60:
        rough = f"{5 * round(seconds / 5)} s"
    else:
        minutes = int(round(seconds / 60))
        rough = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    return f"about {rough} left"


def progress_text(progress: Progress, noun: str = "photo") -> str:
    """'1,234 of 2,387 photos, about 40 s left', or 'Cross-validating: 35%, about 20 s
    left' when the work does not count items ('Training…' before it has begun)."""
    if progress.total:
        text = f"{progress.done:,} of {progress.total:,} {pl(progress.total, noun)}"
    elif progress.fraction:
        text = f"{progress.stage}: {100 * progress.fraction:.0f}%"
    else:
        return f"{progress.stage}…"
    if progress.seconds_left is not None:
        text += ", " + time_left(progress.seconds_left)
    return text


def how_far(progress: Optional[Progress], noun: str = "photo") -> str:
    """' after 1,234 of 2,387 photos', ' while cross-validating (35%)': where a run
    ended, to follow 'Cancelled' (nothing before the run reported any progress)."""
    if progress is None:
        return ""
    if progress.total:
        return f" after {progress.done:,} of {progress.total:,} {pl(progress.total, noun)}"
    percent = f" ({100 * progress.fraction:.0f}%)" if progress.fraction else ""
    return f" while {progress.stage.lower()}{percent}"


def reporting_progress(state, stage: str, total: int = 0, start: float = 0.0,
                       end: float = 1.0, every: float = 0.3):
    """An ``on_progress(fraction)`` for core work that moves the progress bar over
    ``start..end`` and, at most every ``every`` seconds, sends a :class:`Progress` with an
    estimate of the time left to the widget (``on_partial_result``)."""
    began = time.monotonic()
    last = [-every]

    def on_progress(fraction: float):
        state.set_progress_value(100 * (start + (end - start) * fraction))
        now = time.monotonic()
        if now - last[0] < every and fraction < 1:
            return
        last[0] = now
        state.set_partial_result(progress_at(stage, fraction, total, now - began))
    return on_progress


class RunControls:
    """Long runs as Orange users know them from Image Analytics' Image Embedding: a Cancel
    button enabled while a run goes on, and its progress in words in the Info box. Every way
    a run ends early leaves Info saying how far it came; unticking Apply Automatically stops
    a run too, as a user who turns it off expects nothing to keep running.

    Put it before ConcurrentWidgetMixin among the bases. The widget creates ``info_label``,
    then calls ``add_run_controls()`` (``auto_apply=False`` where it has buttons of its own,
    as KML Export's Save), starts work with ``run()``, and reports progress from the task
    with :func:`reporting_progress`. A widget with outputs defines ``clear_outputs()``."""
    progress_noun = "photo"
    progress: Optional[Progress] = None  # the last progress shown

    def add_run_controls(self, auto_apply: bool = True):
        if auto_apply:
            self.apply_box = gui.auto_apply(self.buttonsArea, self,
                                            callback=self._auto_apply_toggled)
        self.cancel_button = gui.button(self.buttonsArea, self, "Cancel",
                                        callback=lambda: self.cancel_run(), autoDefault=False)
        self.cancel_button.setIcon(self.style().standardIcon(QStyle.SP_DialogCancelButton))
        self.cancel_button.setToolTip("Stop the run now")
        self.cancel_button.setEnabled(False)
        leave_room_for_messages(self)

    def run(self, task, *args, total: int = 0):
        """Start ``task``; Info counts ``total`` items, or says it is starting."""
        self.start(task, *args)
        self.cancel_button.setEnabled(True)
        self.on_partial_result(Progress("Starting", 0, 0, total))

    def on_partial_result(self, progress: Progress):
        self.progress = progress
        self.info_label.setText(progress_text(progress, self.progress_noun))

    def _on_task_done(self, future):
        self.cancel_button.setEnabled(False)
        super()._on_task_done(future)

    def cancel(self):
        """Every way a run ends early (Cancel, new input, closing) leaves Info saying so."""
        running, progress = self.task is not None, self.progress
        self.cancel_button.setEnabled(False)
        super().cancel()
        if running:
            self.info_label.setText(f"Cancelled{how_far(progress, self.progress_noun)}.")

    def cancel_run(self, because: str = ""):
        """The Cancel button: stop the run now (the worker stops at its next check), send
        nothing and say how far it came and how to run again."""
        if self.task is None:
            return
        self.cancel()
        self.clear_outputs()
        self.info_label.setText(f"{'Stopped' if because else 'Cancelled'}"
                                f"{how_far(self.progress, self.progress_noun)}{because}; "
                                f"{self.after_cancel()}")

    def after_cancel(self) -> str:
        """What a cancelled run leaves and how to run it again."""
        if self.auto_apply:
            return "nothing sent. It runs again when the input or a setting changes."
        self.commit.deferred()  # not run yet: marks it pending, so Apply is enabled
        return "nothing sent. Press Apply to run again."

    def clear_outputs(self):
        """Send nothing on every output (a widget with outputs defines it)."""

    def _auto_apply_toggled(self):
        if not self.auto_apply and self.task is not None:
            self.cancel_run(", as Apply Automatically was turned off")
