"""Curves of results (meanfield.plot.curves): series, counts, phase diagram, staircase,
growth rates and the mean-field limit; fonts at print size."""

import numpy as np
import pytest
from matplotlib.text import Text

from meanfield.plot import curves, save
from meanfield.plot.curves import figure_image


def _texts(fig):
    figure_image(fig)  # draw: tick labels exist only after a draw
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _table():
    t = np.linspace(0.0, 40.0, 81)
    beta = np.linspace(0.0, 8.0, 17)
    front = 3.0 * np.exp(0.4 * beta)
    frac = 1.0 / (1.0 + np.exp(-(t[None, :] - front[:, None])))
    return {"t": t, "beta": beta, "fraction": frac}, (beta, front)


def _growth_rows():
    rows = []
    for d, beta, nz in [(2, 4.0, True), (3, 4.0, False)]:
        for ell in range(1, 5):
            theory = 0.1 * ell
            rows.append({"d": d, "beta": beta, "normalized": nz, "ell": ell, "theory": theory,
                         "measured": theory * (1 + 1e-5 * ell)})  # fmt: skip
    return rows


def _mean_field(slope=-0.5, seeds=6):
    rng = np.random.default_rng(0)
    ns = [250, 500, 1000, 2000, 4000]
    rows = [{"n": n, "seed": s, "t": 2.0, "level": 3,
             "distance": 0.8 * n**slope * np.exp(0.1 * rng.standard_normal())}
            for n in ns for s in range(seeds)]  # fmt: skip
    return {"rows": rows, "levels": [2, 3], "times": [1.0, 2.0], "metric": "sliced W1"}


def _all_figures(width):
    t = np.linspace(0.0, 5.0, 11)
    table, boundary = _table()
    yield curves.series(t, {"a": t, "b": t**2}, ylabel="y", width=width).figure
    yield curves.cluster_counts(t, {"density": np.minimum(t // 1, 4)}, width=width).figure
    yield curves.phase_diagram(table, boundary=boundary, width=width).figure
    ratios = {r"$\beta=4$": 0.3 + 0.7 * (t > 2), r"$\beta=5$": 0.3 + 0.7 * (t > 4)}
    yield curves.staircase(t, ratios, plateaus=[0.3, 1.0], width=width).figure
    yield curves.growth_rates(_growth_rows(), width=width).figure
    yield curves.mean_field_limit(_mean_field(), width=width).figure


@pytest.mark.parametrize("width", [3.4, 7.0])
def test_fonts_at_least_8_pt_at_print_width(width, tmp_path):
    for k, fig in enumerate(_all_figures(width)):
        texts = _texts(fig)
        assert texts and min(t.get_fontsize() for t in texts) >= 8
        assert fig.get_size_inches()[0] == pytest.approx(width)
        for fmt in ("pdf", "svg"):
            assert save(fig, tmp_path / f"f{k}.{fmt}").stat().st_size > 1000


def test_cluster_counts_integer_ticks():
    t = np.linspace(0.0, 5.0, 11)
    ax = curves.cluster_counts(t, {"density": np.minimum(t // 1, 4), "tokens": t // 1})
    figure_image(ax.figure)
    ticks = ax.get_yticks()
    assert np.all(ticks == np.round(ticks)) and len(ax.get_lines()) == 2


def test_phase_diagram_axes_and_visible_boundary_in_legend():
    table, boundary = _table()
    ax = curves.phase_diagram(table, boundary=boundary)
    assert ax.get_xlim() == (0.0, 40.0) and ax.get_ylim() == (0.0, 8.0)  # t on x, beta on y
    mesh = ax.collections[0]
    assert mesh.get_array().shape == (17, 81)
    legend = ax.get_legend()
    handle = legend.legend_handles[0]
    assert legend.texts[0].get_text() == "equiangular start"
    # the legend line differs from the legend box, so it shows
    from matplotlib.colors import to_rgb

    assert (
        np.abs(
            np.subtract(to_rgb(handle.get_color()), to_rgb(legend.get_frame().get_facecolor()))
        ).sum()
        > 0.5
    )
    with pytest.raises(ValueError, match="fraction"):
        curves.phase_diagram({**table, "fraction": table["fraction"].T})


def test_staircase_labels_on_curves_and_plateau_ticks():
    from matplotlib.colors import to_rgb

    t = np.geomspace(0.1, 100.0, 50)
    ratios = {r"$\beta=4$": 0.3 + 0.7 * (t > 2), r"$\beta=5$": 0.3 + 0.7 * (t > 20)}
    ax = curves.staircase(t, ratios, plateaus=[0.3, 0.5, 1.0])
    labels = {a.get_text(): a for a in ax.texts}
    for (name, _), line in zip(ratios.items(), ax.get_lines()[-2:], strict=True):
        # labelled on the curve, in its colour
        np.testing.assert_allclose(to_rgb(labels[name].get_color()), to_rgb(line.get_color()))
    right = [c for c in ax.child_axes]
    assert list(right[0].get_yticks()) == [0.3, 0.5, 1.0]
    # labels sit right of each curve's last rise: later for the larger beta
    assert labels[r"$\beta=5$"].xy[0] > labels[r"$\beta=4$"].xy[0]


def test_growth_rates_show_small_errors():
    rows = _growth_rows()
    ax = curves.growth_rates(rows, target=1e-2)
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("$S")]
    assert len(lines) == 2
    err = lines[0].get_ydata()
    np.testing.assert_allclose(err, 1e-5 * np.arange(1, 5), rtol=1e-6)
    lo, hi = ax.get_ylim()
    assert lo < err.min() and hi > 1e-2  # the 1e-5 errors and the tolerance both in view
    assert ax.get_yscale() == "log"


def test_mean_field_limit_seeds_and_slope():
    res = _mean_field(slope=-0.5, seeds=6)
    ax = curves.mean_field_limit(res)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5 * 6  # every seed drawn
    fit = [ln for ln in ax.get_lines() if ln.get_label().startswith("fit")][0]
    slope = float(fit.get_label().split("$")[1])
    assert slope == pytest.approx(-0.5, abs=0.06)
    with pytest.raises(ValueError, match="t must be one of"):
        curves.mean_field_limit(res, t=3.0)


def test_series_bad_input():
    with pytest.raises(ValueError, match="shape"):
        curves.series([0.0, 1.0], {"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="non-empty dict"):
        curves.series([0.0, 1.0], {})


def test_plot_series_writes_file(tmp_path):
    path = curves.plot_series([0.0, 1.0], {"a": [1.0, 2.0]}, tmp_path / "s.png", ylabel="y")
    assert path.stat().st_size > 3000
