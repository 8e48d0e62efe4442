"""The plots draw the curves they are titled with: the whole dataset on ``*_ALL``, only the attribute's videos on
each per-attribute plot, legend values from the same videos. Checked on the matplotlib artists themselves."""
import numpy as np
import pytest

from siamcorners.benchmarks import metrics as M
from siamcorners.benchmarks.evaluation import TrackerEvaluation
from siamcorners.benchmarks.plots import plot_all


def _evaluation(name, levels):
    """A tracker whose video v has every curve constant at levels[v] (hand-made, 3 videos)."""
    curves = {"success": np.array([[v] * 21 for v in levels], float),
              "precision": np.array([[v] * 51 for v in levels], float),
              "norm_precision": np.array([[v] * 51 for v in levels], float)}
    thresholds = {"success": M.SUCCESS_THRESHOLDS, "precision": M.PRECISION_THRESHOLDS,
                  "norm_precision": M.NORM_PRECISION_THRESHOLDS}
    return TrackerEvaluation(tracker=name, dataset="OTB100", protocol="pysot", videos=["a", "b", "c"],
                             curves=curves, thresholds=thresholds, scores={}, per_video={},
                             attribute_index={"OCC": [0, 1], "FM": [2]})


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Run plot_all and keep, per written file stem, the title and {legend label: y data} of its axes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    close = plt.close

    def keep(fig=None):
        ax = fig.axes[0]
        figures.append((ax.get_title(), {line.get_label(): np.asarray(line.get_ydata()) for line in ax.lines}))
        close(fig)

    monkeypatch.setattr(plt, "close", keep)
    # the data is what is checked here; rendering 18 PNG/PDF files would only cost time (test_eval_tool writes them)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, path, **kw: open(path, "wb").close())
    paths = plot_all([_evaluation("A", [1.0, 0.5, 0.0]), _evaluation("B", [0.2, 0.2, 0.8])], str(tmp_path))
    return paths, figures


def _figure(figures, title):
    found = [lines for t, lines in figures if t == title]
    assert len(found) == 1, (title, [t for t, _ in figures])
    return found[0]


def test_whole_dataset_and_per_attribute_plots_draw_their_own_videos(drawn):
    paths, figures = drawn
    assert len(figures) == 3 * 3 and len(paths) == 2 * 9  # ALL, FM, OCC x 3 metrics, png + pdf each
    # ALL: A = mean(1, 0.5, 0) = 0.5, B = mean(0.2, 0.2, 0.8) = 0.4
    lines = _figure(figures, "Success plots of OPE on OTB100")
    assert sorted(lines) == ["A [0.500]", "B [0.400]"]
    np.testing.assert_allclose(lines["A [0.500]"], 0.5)
    np.testing.assert_allclose(lines["B [0.400]"], 0.4)
    # OCC = videos 0 and 1: A = 0.75, B = 0.2
    lines = _figure(figures, "Success plots of OPE - OCC (2)")
    assert sorted(lines) == ["A [0.750]", "B [0.200]"]
    np.testing.assert_allclose(lines["A [0.750]"], 0.75)
    np.testing.assert_allclose(lines["B [0.200]"], 0.2)
    # FM = video 2 only: A = 0, B = 0.8
    lines = _figure(figures, "Precision plots of OPE - FM (1)")
    assert sorted(lines) == ["A [0.000]", "B [0.800]"]
    np.testing.assert_allclose(lines["A [0.000]"], 0.0)
    np.testing.assert_allclose(lines["B [0.800]"], 0.8)
    lines = _figure(figures, "Normalized Precision plots of OPE - OCC (2)")
    np.testing.assert_allclose(lines["A [0.750]"], 0.75)
    # legend sorted best first
    lines = _figure(figures, "Success plots of OPE - FM (1)")
    assert list(lines) == ["B [0.800]", "A [0.000]"]
