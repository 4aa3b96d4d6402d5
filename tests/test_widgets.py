"""The widget helper draws its first state at once and redraws on change."""

import ipywidgets as widgets
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mmcl.widgets import interactive_figure  # noqa: E402


def test_interactive_figure_draws_and_redraws():
    calls = []

    def draw(a, b):
        calls.append((a, b))
        fig, ax = plt.subplots()
        ax.plot([0, 1], [a, b])
        return fig

    slider = widgets.FloatSlider(value=0.5, min=0, max=1)
    box = interactive_figure(draw, {"a": slider, "b": widgets.IntSlider(value=3)})
    assert calls == [(0.5, 3)]
    slider.value = 0.25
    assert calls[-1] == (0.25, 3)
    assert isinstance(box.children[1], widgets.Output)


def test_interactive_figure_errors():
    with pytest.raises(TypeError, match="draw must be a callable"):
        interactive_figure(None, {"a": widgets.IntSlider()})
    with pytest.raises(TypeError, match="controls must be a non-empty dict"):
        interactive_figure(lambda: None, {})
