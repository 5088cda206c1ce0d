"""The package layout: imports point one way (no cycles), no private name crosses a module,
and the public names of the API contract exist.

The import graph is read from the source (every ``import`` statement, also those inside
functions, except under ``if TYPE_CHECKING:``), so a cycle hidden in a lazy import fails too.
"""

import ast
import importlib
from pathlib import Path

import pytest

import meanfield as mf

PACKAGE = Path(mf.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = ("meanfield",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path):
    """(target module, imported names, line) for every runtime import of the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if _is_type_checking(node) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("meanfield"):
                    yield a.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("meanfield"):
                yield target, [a.name for a in node.names], node.lineno


def _graph() -> dict:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {m: set() for m in modules}
    for m, path in modules.items():
        for target, names, _ in _imports(path):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            edges[m].update(subs)  # "from pkg import sub" imports the submodule
            if target in modules and len(subs) < len(names) or not names:
                edges[m].add(target)
        edges[m].discard(m)
    return edges


def find_cycles(edges: dict) -> list:
    """Every back edge of a depth-first search, as the cycle it closes."""
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == "open":
                cycles.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return cycles


def test_every_internal_import_resolves():
    bad = []
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        for target, names, line in _imports(path):
            if target not in modules:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports missing {target}")
                continue
            mod = importlib.import_module(target)
            for name in names:
                if not hasattr(mod, name) and f"{target}.{name}" not in modules:
                    bad.append(f"{path.relative_to(PACKAGE)}:{line}: {target} has no {name}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    cycles = find_cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_private_name_crosses_a_module():
    bad = []
    for path in PACKAGE.rglob("*.py"):
        for target, names, line in _imports(path):
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {private} from {target}")
    assert not bad, "\n".join(bad)


def test_layout_matches_the_design():
    dirs = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert {"field", "sphere", "eulerian", "plot", "app", "studies"} <= dirs
    assert (PACKAGE / "app" / "sweep" / "__init__.py").is_file()
    for name in ("model", "initial", "theory", "diagnostics", "compare", "harmonics", "schemes"):
        assert (PACKAGE / f"{name}.py").is_file(), name
    assert (PACKAGE / "solve.py").is_file()


PUBLIC = [
    "Attention",
    "sample_sphere",
    "solve_particles",
    "SphereMesh",
    "DG",
    "Density",
    "solve_density",
    "theory",
    "wasserstein",
    "plot",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_exists(name):
    assert hasattr(mf, name), name


def test_public_signatures_use_field():
    import inspect

    for verb in (mf.solve_particles, mf.solve_density):
        params = inspect.signature(verb).parameters
        assert "field" in params and "velocity" not in params and "velocity_method" not in params
    params = inspect.signature(mf.solve_density).parameters
    assert (
        list(params)[:3] == ["model", "rho0", "t_eval"] and params["scheme"].default == "eulerian"
    )
    for ctor in ("icosphere", "circle", "read", "from_arrays"):
        assert callable(getattr(mf.SphereMesh, ctor))
    assert callable(mf.theory.growth_rate)
    for method in ("evaluate", "integrate", "sample", "cell_means", "quadrature_measure"):
        assert callable(getattr(mf.Density, method))


def test_python_m_meanfield_is_the_cli():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "meanfield", "--version"],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip().endswith(mf.__version__)
