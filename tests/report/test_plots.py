"""The plot helper: a PNG from what `draw` puts on the axes, figures closed, a clean False without matplotlib."""

import builtins
import struct

import pytest

from dglsp.report.plots import save_plot

pytest.importorskip("matplotlib")
PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    return struct.unpack(">II", data[16:24])  # the IHDR chunk: width, height


def test_it_writes_a_png_of_the_asked_size_from_what_draw_did(tmp_path):
    import matplotlib.pyplot as plt

    drawn, before = [], plt.get_fignums()
    path = tmp_path / "p.png"

    def draw(ax):
        ax.plot([0, 1, 2], [3, 1, 2])
        drawn.append(len(ax.lines))

    assert save_plot(path, draw, figsize=(4, 3), dpi=50) is True
    assert drawn == [1] and png_size(path) == (200, 150)
    assert plt.get_fignums() == before  # closed: a long run that plots often does not pile up figures


def test_several_axes_reach_draw_and_the_figure_is_closed_when_draw_fails(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()

    def draw(axes):
        assert len(axes) == 2
        raise RuntimeError("bad data")

    with pytest.raises(RuntimeError):
        save_plot(tmp_path / "p.png", draw, nrows=2, ncols=1)
    assert plt.get_fignums() == before and not (tmp_path / "p.png").exists()


def test_without_matplotlib_it_returns_false_and_writes_nothing(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert save_plot(tmp_path / "p.png", lambda ax: None) is False
    assert not (tmp_path / "p.png").exists()
