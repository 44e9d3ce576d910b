"""Write Geotags widget: a thin Qt face over ``orangecontrib.geophoto.writeback``.

Writing into files is never automatic: a new input or a changed option only runs a
preview (the core's dry run, which reads the photos and writes nothing), so Info and the
output say what Write would do; files are written only when the user presses Write. Writing
into the originals needs a second, deliberate step: the in-place mode must be confirmed
with its own checkbox, which is not saved and is cleared after every write.
"""
import os
from typing import NamedTuple, Optional

from AnyQt.QtCore import Qt
from AnyQt.QtWidgets import QFileDialog, QStyle

from Orange.data import Table
from Orange.widgets import gui
from Orange.widgets.settings import Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.localization import pl
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Input, Msg, Output, OWWidget

from orangecontrib.geophoto.export.table import LAT_PRED, columns_by_name
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import find_image_column
from orangecontrib.geophoto.widgets.common import (
    RunControls, reporting_progress, workflow_path,
)
from orangecontrib.geophoto.writeback import (
    FAILED, MODES, REASON_COLUMN, STATUS_COLUMN, WriteOptions, WriteSummary,
    write_geotags_table,
)

SIDECAR, COPY, INPLACE = (MODES.index(m) for m in ("sidecar", "copy", "inplace"))
MODE_LABELS = {SIDECAR: "XMP sidecars (originals untouched)",
               COPY: "Copies into a folder:",
               INPLACE: "In place (after a backup)"}
MODE_TOOLTIPS = {SIDECAR: "into XMP sidecars beside the photos",
                 COPY: "into copies of the photos in the folder",
                 INPLACE: "into the photos themselves, keeping a backup of each"}
MODE_WORDS = {SIDECAR: "XMP sidecars", COPY: "copies", INPLACE: "in place"}


class Result(NamedTuple):
    data: Table
    summary: WriteSummary
    dry_run: bool
    mode: int


def run_write(data: Table, options: WriteOptions, state: TaskState) -> Result:
    """The widget's worker: write (or preview) every row's position off the GUI thread."""
    out, summary = write_geotags_table(
        data, options, on_progress=reporting_progress(
            state, "Previewing" if options.dry_run else "Writing", len(data)),
        should_stop=state.is_interruption_requested)
    return Result(out, summary, options.dry_run, MODES.index(options.mode))


class OWWriteGeotags(OWWidget, RunControls, ConcurrentWidgetMixin):
    name = "Write Geotags"
    description = ("Write photos' positions into XMP sidecars, copies or the photos "
                   "themselves, for every photo tool to read.")
    icon = "icons/WriteGeotags.svg"
    priority = 60
    keywords = "write, geotag, xmp, sidecar, exif, gps, save, position, lightroom, darktable"
    want_main_area = False
    resizing_enabled = False

    class Inputs:
        data = Input("Data", Table)

    class Outputs:
        data = Output("Data", Table)

    # one short sentence each, to fit the widget's width; details go in the Info box
    class Error(OWWidget.Error):
        no_image_column = Msg("No image column in the data.")
        no_coordinates = Msg("No coordinates in the data.")
        failed = Msg("Writing failed; see Info.")

    class Warning(OWWidget.Warning):
        failed_rows = Msg("{} failed; see Info.")
        unsupported = Msg("{} unsupported.")

    class Information(OWWidget.Information):
        preview = Msg("Preview: nothing written yet.")

    mode = Setting(SIDECAR)
    out_dir = Setting("", schema_only=True)
    max_radius_m = Setting(1000)
    overwrite = Setting(False)
    keep_mtime = Setting(True)

    def __init__(self):
        OWWidget.__init__(self)
        ConcurrentWidgetMixin.__init__(self)
        self.data: Optional[Table] = None
        self.result: Optional[Result] = None
        self.confirmed = False  # in place: never saved, cleared after each write
        self.problem = ""       # why Write is disabled, for Info
        self.writing = False    # a Write (not a preview) is running

        self.mode_box = box = gui.radioButtons(
            self.controlArea, self, "mode", box="Write positions into",
            callback=self._mode_changed)
        gui.appendRadioButton(box, MODE_LABELS[SIDECAR])
        gui.appendRadioButton(box, MODE_LABELS[COPY])
        row = gui.hBox(gui.indentedBox(box))
        self.folder_edit = gui.lineEdit(row, self, "out_dir", placeholderText="Folder…",
                                        callback=self._options_changed)
        self.folder_button = gui.button(row, self, "", callback=self._browse_folder,
                                        autoDefault=False, tooltip="Choose a folder")
        self.folder_button.setIcon(self.style().standardIcon(QStyle.SP_DirOpenIcon))
        gui.appendRadioButton(box, MODE_LABELS[INPLACE])
        self.confirm_box = gui.checkBox(
            gui.indentedBox(box), self, "confirmed", "I understand the photos will be changed",
            callback=self._update_buttons,
            tooltip="Writing into the originals needs this each time; a backup of each "
                    "photo is kept beside it.")

        self.options_box = box = gui.vBox(self.controlArea, "Options")
        gui.spin(box, self, "max_radius_m", 10, 1_000_000, step=100,
                 label="Only predicted positions within:", suffix=" m",
                 alignment=Qt.AlignRight, callback=self._options_changed, controlWidth=90,
                 tooltip="Positions predicted by Geo Classifier are written only when their "
                         "uncertainty radius is at most this; they are marked as predicted.")
        gui.checkBox(box, self, "overwrite", "Replace existing GPS positions",
                     callback=self._options_changed)
        gui.checkBox(box, self, "keep_mtime", "Keep file modification times",
                     callback=self._options_changed)

        self.info_label = gui.widgetLabel(gui.vBox(self.controlArea, "Info"), "No data.")
        self.info_label.setWordWrap(True)
        self.add_run_controls(auto_apply=False)  # writing is never automatic
        self.preview_button = gui.button(self.buttonsArea, self, "Preview",
                                         callback=self.preview, autoDefault=False,
                                         tooltip="Show what Write would do; writes nothing")
        self.write_button = gui.button(self.buttonsArea, self, "Write", callback=self.write,
                                       autoDefault=False)
        self._enable_options()
        self._update_buttons()

    # --- inputs and options ------------------------------------------------------------
    @Inputs.data
    def set_data(self, data: Optional[Table]):
        self.cancel()
        self.data = data
        self.confirmed = False
        self.Error.no_image_column(shown=data is not None and find_image_column(data) is None)
        self.Error.no_coordinates(shown=data is not None and not self._has_positions(data))
        self.preview()

    @staticmethod
    def _has_positions(data: Table) -> bool:
        """True or predicted coordinates, as the core reads them."""
        names = columns_by_name(data)
        return "latitude" in names or LAT_PRED in names

    def _no_input(self) -> str:
        """Why there is nothing to write ("" when there is)."""
        if self.data is None:
            return "No data."
        if not len(self.data):
            return "No photos."
        if self.Error.no_image_column.is_shown():
            return "No image column."
        if self.Error.no_coordinates.is_shown():
            return "No coordinates to write."
        return ""


    def _browse_folder(self):
        start = self._resolved_folder() or os.path.expanduser("~")
        folder = QFileDialog.getExistingDirectory(self, "Folder for the Copies", start)
        if folder:
            self.out_dir = folder
            self.mode = COPY
            self._mode_changed()

    def _mode_changed(self):
        self.confirmed = False
        self._enable_options()
        self._options_changed()

    def _enable_options(self):
        """Options of an unchosen mode are greyed out."""
        for control in (self.folder_edit, self.folder_button):
            control.setEnabled(self.mode == COPY)
        self.confirm_box.setEnabled(self.mode == INPLACE)

    def _options_changed(self):
        self.preview()

    def _resolved_folder(self) -> str:
        return workflow_path(self, self.out_dir)

    def _write_problem(self) -> str:
        """Why Write can not be pressed now ("" when it can)."""
        if self._no_input():
            return "no photos with coordinates."
        if self.mode == COPY and not self.out_dir.strip():
            return "choose a folder for the copies."
        if self.mode == INPLACE and not self.confirmed:
            return "tick “I understand the photos will be changed”."
        return ""

    def _update_buttons(self):
        self.problem = self._write_problem()
        running = self.task is not None
        self.writing = self.writing and running
        # options stay as they are while files are written (a change would stop the write)
        for box in (self.mode_box, self.options_box):
            box.setEnabled(not self.writing)
        self.write_button.setEnabled(not self.problem and not running)
        self.write_button.setToolTip(f"To write: {self.problem}" if self.problem else
                                     "Write the positions " + MODE_TOOLTIPS[self.mode])
        self.preview_button.setEnabled(self.data is not None and not running)
        if self.result is not None and not running:
            self.info_label.setText(self._summary())

    def options(self, dry_run: bool) -> WriteOptions:
        return WriteOptions(
            mode=MODES[self.mode], out_dir=self._resolved_folder() or None,
            max_radius_m=float(self.max_radius_m), overwrite=self.overwrite,
            dry_run=dry_run, backup=True, keep_mtime=self.keep_mtime)

    # --- work --------------------------------------------------------------------------
    def preview(self):
        """What Write would do, written nowhere: run on every input and option change."""
        self._run(dry_run=True)

    def write(self):
        """The only way files are written: the Write button."""
        if self._write_problem():  # a disabled button can still be clicked from code
            self._update_buttons()
            return
        self._run(dry_run=False)

    def _run(self, dry_run: bool):
        self.cancel()
        self.Error.failed.clear()
        self.Warning.clear()
        self.Information.preview.clear()
        self.result = None
        nothing = self._no_input() or (
            "Choose a folder for the copies to preview or write them."
            if self.mode == COPY and not self.out_dir.strip() else "")
        if nothing:
            self.Outputs.data.send(None)
            self.info_label.setText(nothing)
            self._update_buttons()
            return
        self.run(run_write, self.data, self.options(dry_run), total=len(self.data))
        self.writing = not dry_run
        self._update_buttons()

    def on_done(self, result: Result):
        self.result = result
        summary = result.summary
        self.Information.preview(shown=result.dry_run)
        self.Warning.failed_rows(self._photos(summary.failed), shown=summary.failed > 0)
        self.Warning.unsupported(self._photos(summary.unsupported),
                                 shown=summary.unsupported > 0)
        if not result.dry_run:
            self.confirmed = False  # the next write into originals needs a new confirmation
        self.Outputs.data.send(result.data)
        self._update_buttons()

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        self.Error.failed()
        self.info_label.setText(f"Writing failed: {ex}")
        self.Outputs.data.send(None)
        self._update_buttons()

    def clear_outputs(self):
        self.Outputs.data.send(None)

    def after_cancel(self) -> str:
        """What a cancelled write leaves: whole files or none, never half a file."""
        text = ("files written before are complete and kept; the others are untouched."
                if self.writing else "nothing written.")
        self._update_buttons()
        return text

    @staticmethod
    def _photos(n: int) -> str:
        return f"{n:,} {pl(n, 'photo')}"

    def _summary(self) -> str:
        r = self.result
        if r is None:
            return "No data."
        s = r.summary
        lines = [f"{'Preview' if r.dry_run else 'Done'} ({MODE_WORDS[r.mode]}): "
                 f"{s.counts_text()}."]
        failures = self._failures()
        if failures:
            lines.append("Not written: " + failures)
        if r.dry_run and not s.written:
            lines.append("Nothing to write with these options.")
        elif r.dry_run:
            lines.append("Nothing written yet. " + (
                f"To write: {self.problem}" if self.problem else "Press Write to write."))
        elif r.mode == SIDECAR:
            lines.append("Each sidecar is beside its photo (photo.jpg.xmp).")
        elif r.mode == COPY:
            lines.append(f"Copies are in {self._resolved_folder()}.")
        return "\n".join(lines)

    def _failures(self, shown: int = 3) -> str:
        """'a.jpg (read-only file), b.png (...)': the first rows that failed, with why."""
        data = self.result.data
        if self.result.summary.failed == 0:
            return ""
        status = data.domain[STATUS_COLUMN]
        names = [os.path.basename(str(p)) for p in data.get_column(find_image_column(data))]
        failed = [(name, reason) for name, code, reason in
                  zip(names, data.get_column(status), data.get_column(REASON_COLUMN))
                  if code == status.values.index(FAILED)]
        text = ", ".join(f"{name} ({reason})" for name, reason in failed[:shown])
        if len(failed) > shown:
            text += f" and {len(failed) - shown} more"
        return text

    def send_report(self):
        folder = f" ({self._resolved_folder() or 'no folder'})" if self.mode == COPY else ""
        self.report_items("Settings", (
            ("Write into", MODE_LABELS[self.mode].rstrip(":") + folder),
            ("Predicted positions only within", f"{self.max_radius_m:,} m"),
            ("Replace existing GPS positions", "yes" if self.overwrite else "no"),
            ("Keep file modification times", "yes" if self.keep_mtime else "no")))
        if self.result is not None:
            s = self.result.summary
            self.report_items("Preview" if self.result.dry_run else "Written", (
                ("Written" if not self.result.dry_run else "To write", s.written),
                ("Skipped, already tagged", s.skipped_tagged),
                ("Skipped, too uncertain", s.skipped_uncertain),
                ("Skipped, unsupported format", s.unsupported),
                ("Without a position", s.unlocated),
                ("Failed", s.failed)))

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()


if __name__ == "__main__":  # pragma: no cover
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    WidgetPreview(OWWriteGeotags).run(geotag_table(table_from_paths(sample_photo_paths())))
