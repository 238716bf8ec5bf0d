"""Drawing helpers (the figures themselves are smoke-tested in test_commands.py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from figures.draw import _suptitle  # noqa: E402


def test_suptitle_wraps_to_the_figure_width_and_never_inside_math():
    title = ("q=2, eps=0.5, g=id, d=40 (D=820, d1=6), gaussian_equivalent input; mean over seeds with the "
             "min-max band; dashed: $\\cos^2 > 1/2$ predicted by the resolvent\nsecond line")
    fig = plt.figure(figsize=(4, 3))
    _suptitle(fig, title)
    lines = fig._suptitle.get_text().split("\n")
    plt.close(fig)
    width = int(4 * 72 / (0.55 * 9))
    assert len(lines) > 2 and lines[-1] == "second line"
    assert all(line.count("$") % 2 == 0 for line in lines)
    assert all(len(line) <= width or "$" in line for line in lines)
    assert " ".join(lines[:-1]) == title.split("\n")[0]
