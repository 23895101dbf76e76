"""The package depends downward only; the library imports NumPy alone at run time."""
import ast
import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parents[1] / "convscope"

# Lower layers may not import higher ones (arith -> ops -> autograd -> functional -> nn -> optim -> cli).
LAYERS = ["arith", "ops", "random", "data", "io", "autograd", "functional", "nn", "optim", "summary", "calc", "explain", "viz", "web",
          "train", "cli"]
FORBIDDEN_EVERYWHERE = {"torch", "flask", "pickle", "scipy"}
PLOTTING = {"matplotlib", "PIL"}  # allowed from the visualization layer up


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield (node.module or ""), node.level


def _layer_of(path: pathlib.Path) -> str | None:
    rel = path.relative_to(PKG).parts
    name = rel[0].removesuffix(".py")
    return name if name in LAYERS else None


def test_no_forbidden_imports():
    for path in PKG.rglob("*.py"):
        layer = _layer_of(path)
        plotting_allowed = layer is not None and LAYERS.index(layer) >= LAYERS.index("viz")
        for module, level in _imports(path):
            if level == 0:
                top = module.split(".")[0]
                assert top not in FORBIDDEN_EVERYWHERE, f"{path} imports {module}"
                assert plotting_allowed or top not in PLOTTING, f"{path} ({layer}) imports {module}"


def test_layers_depend_downward():
    for path in PKG.rglob("*.py"):
        layer = _layer_of(path)
        if layer is None:
            continue
        rank = LAYERS.index(layer)
        for module, level in _imports(path):
            if level == 0:
                if not module.startswith("convscope."):
                    continue
                target = module.split(".")[1]
            else:
                parts = path.relative_to(PKG).parts
                depth = len(parts) - 1  # folders below the package
                if level - 1 < depth:
                    continue  # sibling inside the same layer folder
                target = module.split(".")[0] if module else ""
            if target in LAYERS:
                assert LAYERS.index(target) <= rank, f"{path} ({layer}) imports higher layer {target}"


def test_import_pulls_in_numpy_only():
    code = ("import sys, convscope, convscope.nn, convscope.functional, convscope.cli; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'torch', 'matplotlib', 'scipy', 'PIL', 'flask'}); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
