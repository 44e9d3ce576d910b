"""Pieces shared by the widgets that read photos (EXIF Geotag, Local Embedder)."""
from Orange.data import DiscreteVariable, StringVariable
from Orange.widgets import gui
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
