"""Interactive figures: controls wired to a drawing function (no computation lives here).

The widget renders its first state immediately, inside an ``Output`` widget, so a notebook executed
with widget state saved shows that figure in the static HTML book too.
"""

from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

__all__ = ["interactive_figure"]


def interactive_figure(
    draw: Callable[..., "plt.Figure"], controls: dict
) -> widgets.VBox:
    """A row of ``controls`` above a figure that ``draw(**values)`` redraws on every change.

    ``draw`` takes the controls' values as keyword arguments and returns a matplotlib figure.
    Returns the widget; ``display`` it (the last expression of a cell does that).
    """
    if not callable(draw):
        raise TypeError("draw must be a callable returning a matplotlib figure")
    if not controls or not all(
        isinstance(c, widgets.ValueWidget) for c in controls.values()
    ):
        raise TypeError(
            "controls must be a non-empty dict of name -> ipywidgets value widget"
        )
    out = widgets.Output()

    def update(_change=None):
        values = {name: c.value for name, c in controls.items()}
        with out:
            out.clear_output(wait=True)
            fig = draw(**values)
            display(fig)
            plt.close(fig)

    for c in controls.values():
        c.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox(list(controls.values())), out])
