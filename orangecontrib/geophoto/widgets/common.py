"""Pieces shared by the widgets: the image column (EXIF Geotag, Local Embedder), a Stop
button with progress in the Info box (EXIF Geotag, KML Export) and long runs with a Cancel
button and progress in words (Local Embedder, Geo Classifier)."""
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


def leave_room_for_messages(widget, chars: int = 32):
    """Widen the control area so that a message of ``chars`` characters fits the message
    bar at the widget's default size (the status bar's buttons and signal icons take about
    170 px beside it); messages are kept to one short sentence of at most that length."""
    width = chars * widget.fontMetrics().averageCharWidth() + 170
    widget.controlArea.setMinimumWidth(max(widget.controlArea.minimumWidth(), width))


def time_left(seconds: float) -> str:
    """'about 40 s left', 'about 3 min left': rounded, as a person says it."""
    if seconds < 60:
        return f"about {max(5, int(round(seconds / 5)) * 5)} s left"
    return f"about {int(round(seconds / 60))} min left"


def progress_text(fraction: float, total: int, noun: str, elapsed: float) -> str:
    """'1,234 of 2,387 photos, about 40 s left' (the estimate once there is one)."""
    done = min(total, int(round(fraction * total)))
    text = f"{done:,} of {total:,} {pl(total, noun)}"
    if fraction >= 0.01 and elapsed >= 1:
        text += ", " + time_left(elapsed * (1 - fraction) / fraction)
    return text


class StoppableTaskMixin:
    """A Stop button and a progress line in the Info box for a ConcurrentWidgetMixin
    widget, so a person sees how far long work is and can end it.

    Call ``add_stop_button`` in ``__init__``, ``start_counted`` instead of ``start`` and
    implement ``on_stopped`` (what the widget says and sends after a Stop)."""
    progress_label = None  # the Info box's QLabel, set by the widget
    progress_noun = "photo"

    def add_stop_button(self):
        self.stop_button = gui.button(self.buttonsArea, self, "Stop", callback=self.stop,
                                      autoDefault=False,
                                      tooltip="Stop the work now running")
        self.stop_button.setEnabled(False)
        self.stop_button.setIcon(self.style().standardIcon(QStyle.SP_BrowserStop))
        self.buttonsArea.layout().insertWidget(0, self.stop_button)
        self.__total, self.__started, self.__fraction = 0, 0.0, 0.0

    def start_counted(self, total: int, task, *args):
        self.start(task, *args)
        self.__total, self.__started, self.__fraction = total, time.monotonic(), 0.0
        self.stop_button.setEnabled(True)
        self._show_progress(0)

    def progress_done(self) -> str:
        """'1,234 of 2,387 photos': how far the last run came."""
        return progress_text(self.__fraction, self.__total, self.progress_noun, 0)

    def _show_progress(self, percent: float):
        self.__fraction = percent / 100
        self.progress_label.setText(progress_text(
            self.__fraction, self.__total, self.progress_noun,
            time.monotonic() - self.__started) + "…")

    def _connect_signals(self, state):
        super()._connect_signals(state)
        state.progress_changed.connect(self._show_progress)

    def _disconnect_signals(self, state):
        super()._disconnect_signals(state)
        state.progress_changed.disconnect(self._show_progress)

    def _on_task_done(self, future):
        self.stop_button.setEnabled(False)
        super()._on_task_done(future)

    def cancel(self):
        """Every way a run ends early (Stop, new input, closing) leaves Info saying so."""
        running = self.is_running()
        self.stop_button.setEnabled(False)
        super().cancel()
        if running:
            self.progress_label.setText(f"Stopped after {self.progress_done()}.")

    def is_running(self) -> bool:
        return self.task is not None

    def stop(self):
        """The Stop button: end the running work and say so."""
        if not self.is_running():
            return
        self.cancel()
        self.on_stopped(self.progress_done())

    def on_stopped(self, how_far: str):
        raise NotImplementedError


# --- long runs: a Cancel button, progress in words, Apply Automatically ------------------

# Width of the controls of widgets with long runs: each message's first line must fit into
# the status bar beside the input/output summary, about 280 px at this width.
CONTROL_WIDTH = 490


class Progress(NamedTuple):
    """What a running task reports to the Info box (a partial result)."""
    stage: str                       # "Embedding", "Cross-validating", ...
    fraction: float
    done: int = 0                    # items done, when the work counts items
    total: int = 0
    seconds_left: Optional[float] = None


def duration_text(seconds: float) -> str:
    """A rough, readable duration: "40 s", "3 min", "1 h 5 min"."""
    seconds = max(1, int(round(seconds)))
    if seconds < 10:
        return f"{seconds} s"
    if seconds < 60:
        return f"{5 * round(seconds / 5)} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def progress_words(progress: Progress, noun: str = "photo") -> str:
    """ "1,234 of 2,387 photos, about 40 s left" (or "Training: 40%, ...")."""
    if progress.total:
        text = f"{progress.done:,} of {progress.total:,} {pl(progress.total, noun)}"
    else:
        text = f"{progress.stage}: {100 * progress.fraction:.0f}%"
    if progress.seconds_left is not None:
        text += f", about {duration_text(progress.seconds_left)} left"
    return text


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
        elapsed = now - began
        left = elapsed / fraction * (1 - fraction) if fraction > 0.02 and elapsed > 1 \
            else None
        state.set_partial_result(Progress(stage, fraction, int(round(fraction * total)),
                                          total, left))
    return on_progress


class RunControls:
    """A Cancel button beside Apply, as Image Analytics' Image Embedding has, enabled
    while a run goes on. Unticking Apply Automatically stops a run too: a user who turns
    it off expects nothing to keep running.

    The widget (a ConcurrentWidgetMixin) calls ``add_run_controls()`` after creating its
    ``info_label``, starts work with ``run()``, calls ``run_ended()`` from ``on_done`` and
    ``on_exception``, and defines ``clear_outputs()``."""

    def add_run_controls(self):
        self.apply_box = gui.auto_apply(self.buttonsArea, self,
                                        callback=self._auto_apply_toggled)
        self.cancel_button = gui.button(self.buttonsArea, self, "Cancel",
                                        callback=lambda: self.cancel_run(), autoDefault=False)
        self.cancel_button.setIcon(self.style().standardIcon(QStyle.SP_DialogCancelButton))
        self.cancel_button.setToolTip("Stop the run; the outputs stay empty")
        self.cancel_button.setEnabled(False)

    def run(self, task, *args):
        self.start(task, *args)
        self.cancel_button.setEnabled(True)

    def run_ended(self):
        self.cancel_button.setEnabled(False)

    def cancel_run(self, why: str = "Cancelled."):
        """Stop the run now (the worker stops at its next check) and say so."""
        if self.task is None:
            return
        self.cancel()
        self.run_ended()
        self.clear_outputs()
        if self.auto_apply:
            why += " It runs again when the input or a setting changes."
        else:
            self.commit.deferred()  # not run yet: marks it pending, so Apply is enabled
            why += " Press Apply to run again."
        self.info_label.setText(why)

    def _auto_apply_toggled(self):
        if not self.auto_apply and self.task is not None:
            self.cancel_run("Stopped: Apply Automatically was turned off.")

