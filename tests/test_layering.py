"""The package's layers: no module imports one of a higher layer, and no import cycle, with
imports inside functions counted as well (they hide cycles, they do not remove them)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mpil2l"
# Lowest first. A module may import modules of its own layer and of the layers before it.
LAYERS = (
    "core",
    "model",
    "evaluation",
    "runtime",
    "storage",
    "optimizers",
    "optimizees",
    "experiment",
    "smac",
    "l2l",
    "",  # the top-level modules: the public API, the command line and the old module paths
)


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path, modules):
    """The mpil2l modules that the file at `path` imports, wherever the import stands."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            # "from package import module" imports the module itself
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def layer(module):
    parts = module.split(".")
    top = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""
    return LAYERS.index(top)


def import_graph():
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, files) for name, path in files.items()}


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS) - {""}


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{module} ({LAYERS[layer(module)] or 'top'}) "
        f"imports {target} ({LAYERS[layer(target)] or 'top'})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = import_graph()
    cycles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_checks_see_a_violation(tmp_path):
    """The graph finds relative, absolute and function-level imports alike."""
    (tmp_path / "mpil2l" / "core").mkdir(parents=True)
    source = tmp_path / "mpil2l" / "core" / "probe.py"
    source.write_text(
        "def f():\n    from ..experiment import generational\n    import mpil2l.storage.reader\n"
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "mpil2l"
    try:
        found = imported_modules(
            source, {"mpil2l.experiment.generational", "mpil2l.storage.reader"}
        )
    finally:
        PACKAGE = saved
    assert found == {"mpil2l.experiment.generational", "mpil2l.storage.reader"}
    assert layer("mpil2l.experiment.generational") > layer("mpil2l.core.probe")
