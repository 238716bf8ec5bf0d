"""Drawing helpers (the figures themselves are smoke-tested in test_commands.py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from figures.style import suptitle  # noqa: E402


def test_suptitle_wraps_to_the_figure_width_and_never_inside_math():
    title = ("q=2, eps=0.5, g=id, d=40 (D=820, d1=6), gaussian_equivalent input; mean over seeds with the "
             "min-max band; dashed: $\\cos^2 > 1/2$ predicted by the resolvent\nsecond line")
    fig = plt.figure(figsize=(4, 3))
    suptitle(fig, title)
    lines = fig._suptitle.get_text().split("\n")
    plt.close(fig)
    width = int(4 * 72 / (0.55 * 9))
    assert len(lines) > 2 and lines[-1] == "second line"
    assert all(line.count("$") % 2 == 0 for line in lines)
    assert all(len(line) <= width or "$" in line for line in lines)
    assert " ".join(lines[:-1]) == title.split("\n")[0]


def test_importing_and_drawing_leave_matplotlib_global_state_alone(tmp_path):
    import subprocess
    import sys

    # dict.items reads rcParams raw: rcParams["backend"] itself would resolve (and import) a backend
    code = ("import sys, matplotlib; raw = lambda: dict(dict.items(matplotlib.rcParams)); before = raw(); "
            "import pandas as pd; from figures import draw; "
            "t = pd.DataFrame({'alpha': [1.0, 2.0], 'mean': [0.1, 0.5], 'lo': [0.05, 0.4], 'hi': [0.15, 0.6]}); "
            "draw.draw_curves_vs_alpha([{'ylabel': 'q', 'curves': [{'tbl': t, 'label': 'x'}]}], "
            f"{str(tmp_path / 'f')!r}, 'title'); "
            "sys.exit(0 if raw() == before and 'matplotlib.pyplot' not in sys.modules else 1)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert (tmp_path / "f.png").stat().st_size > 1000
