"""The theory package is a one-way pipeline: every module imports (at top level or inside a function) only
modules listed before it in `theory.PIPELINE`, so a change to a later step can never alter an earlier one."""

import ast
import pathlib

import pytest

import theory

ROOT = pathlib.Path(theory.__file__).parent
ORDER = [m for m, _layer, _what in theory.PIPELINE]


def theory_imports(source: str) -> list[str]:
    """The theory modules that ``source`` (a module of the theory package) imports, anywhere in it."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 0:
                if parts[0] != "theory":
                    continue
                parts = parts[1:]
            if parts and parts[0]:
                out.append(parts[0])
            else:  # from . import x / from theory import x
                out += [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name.split(".")[1] for a in node.names if a.name.startswith("theory.")]
    return out


def backward_imports(module: str, source: str) -> list[str]:
    """The imports of ``source`` (as theory module ``module``) that are not of a module before it in the order."""
    rank = ORDER.index(module)
    return [t for t in theory_imports(source) if t not in ORDER or ORDER.index(t) >= rank]


def test_pipeline_lists_every_module_once():
    files = sorted(p.stem for p in ROOT.glob("*.py") if p.stem != "__init__")
    assert sorted(ORDER) == files and len(set(ORDER)) == len(ORDER)
    assert {layer for _m, layer, _w in theory.PIPELINE} <= set(theory.LAYERS)
    layers = [theory.LAYERS.index(layer) for _m, layer, _w in theory.PIPELINE]
    assert layers == sorted(layers), "PIPELINE must list the layers in their order"


@pytest.mark.parametrize("module", ORDER)
def test_module_imports_only_earlier_modules(module):
    source = (ROOT / f"{module}.py").read_text()
    assert backward_imports(module, source) == []
    layer = dict((m, lay) for m, lay, _w in theory.PIPELINE)[module]
    assert f"Pipeline layer: {layer}" in ast.get_docstring(ast.parse(source)), "the docstring states the layer"


def test_checker_flags_backward_imports():
    first, last = ORDER[0], ORDER[-1]
    for snippet in (f"from .{last} import x", f"def f():\n    from .{last} import x\n", f"from theory.{last} import x",
                    f"import theory.{last}", f"from . import {last}", f"from theory import {first}, {last}",
                    f"from .{first} import x", "from .no_such_module import x"):
        assert backward_imports(first, snippet), snippet
    assert backward_imports(last, f"from .{first} import x\nimport numpy\nfrom hierarchical_model import Teacher") == []
