"""Labelled image grids for the explore figures: re-exported from `genzoo.data.labelled_grid`
(the data layer, so that the trainer labels its figures with the same code)."""

from genzoo.data.labelled_grid import (  # noqa: F401
    MIN_FONT_PX,
    TEXT_COLOUR,
    default_font_px,
    font_of_size,
    format_value,
    labelled_grid,
    save_labelled_grid,
)
