"""Pieces shared by the widgets: the image column (EXIF Geotag, Local Embedder), paths
relative to the workflow (EXIF Geotag's GPX file, Write Geotags' folder) and a Stop button
with progress in the Info box (EXIF Geotag, KML Export, Write Geotags)."""
import os
import time

from AnyQt.QtWidgets import QStyle
from Orange.data import DiscreteVariable, StringVariable
from Orange.widgets import gui
from Orange.widgets.utils.localization import pl
from Orange.widgets.utils.itemmodels import DomainModel

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
