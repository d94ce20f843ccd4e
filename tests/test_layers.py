"""The layer rule of ARCHITECTURE.md: a module may import its own layer and the layers below it,
never one above. Every import in explorer/ and cuda_ops/ is read with `ast` (also the ones inside
functions, which the code uses for lazy loading), so a late `from explorer.app import ...` deep in
a headless module fails here before it breaks a machine without a display.

Imports made from strings (`importlib.import_module` in explorer/cli/main.py) are not seen; the
CLI sits on the top layer, so they cannot point upwards anyway.

Inside the app the same reading checks that the feature objects see the app only through the
`AppHost` protocol (explorer/app/host.py): they never import the controller, nor each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Bottom first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("cuda_ops", ("cuda_ops",)),
    ("foundation", ("explorer.allocator", "explorer.errors", "explorer.fileio", "explorer.devices",
                    "explorer.interrupts", "explorer.jobs", "explorer.cli_values", "explorer.outputs",
                    "explorer.imageinput",
                    "explorer.model_inputs")),
    ("nets", ("explorer.nets",)),
    ("model", ("explorer.model",)),  # the Model API wraps a generator from nets
    ("download", ("explorer.download",)),
    ("checkpoints", ("explorer.checkpoints", "explorer")),  # `explorer` itself: the load/save facade
    ("latent", ("explorer.latent",)),
    ("engine", ("explorer.engine",)),
    ("project", ("explorer.project",)),
    ("directions", ("explorer.directions",)),
    ("video", ("explorer.video",)),
    ("train", ("explorer.train",)),
    ("diagnose", ("explorer.diagnose",)),
    ("app", ("explorer.app",)),
    ("entry points", ("explorer.cli", "explorer.__main__")),
]

# Upward imports the code has today, each with its reason. An entry that is no longer needed
# fails the test too, so this list only ever shrinks to what is true.
KNOWN_UPWARD: dict[tuple[str, str], str] = {
    ("explorer.download.transfer", "explorer"):
        "reads only `explorer.__version__` for the HTTP User-Agent",
}


def layer_of(module: str) -> int | None:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def source_modules() -> dict[str, Path]:
    modules = {}
    for package in ("explorer", "cuda_ops"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(module: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import of ours in the file; `from a import b` counts as `a.b`
    when that is a module of ours, else as `a`."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if sub in known else target))
    return [(line, name) for line, name in found if name.split(".")[0] in ("explorer", "cuda_ops")]


def upward_imports() -> list[tuple[str, str, str]]:
    """(importer, imported, where) for each import from a lower layer into a higher one."""
    modules = source_modules()
    known = set(modules)
    upward = []
    for module, path in modules.items():
        own = layer_of(module)
        for line, target in imported_modules(module, path, known):
            if layer_of(target) > own:
                upward.append((module, target, f"{path.relative_to(REPO_ROOT)}:{line}"))
    return upward


def test_every_module_has_a_layer():
    unplaced = [m for m in source_modules() if layer_of(m) is None]
    assert not unplaced, f"add these modules to LAYERS in tests/test_layers.py: {unplaced}"


def test_no_lower_layer_imports_a_higher_one():
    names = [name for name, _ in LAYERS]
    bad = [f"{where}: {importer} ({names[layer_of(importer)]}) imports {target} ({names[layer_of(target)]})"
           for importer, target, where in upward_imports() if (importer, target) not in KNOWN_UPWARD]
    assert not bad, ("a lower layer imports a higher one (see ARCHITECTURE.md, Layers):\n"
                     + "\n".join(bad))


def test_known_exceptions_are_still_real():
    seen = {(importer, target) for importer, target, _ in upward_imports()}
    stale = [pair for pair in KNOWN_UPWARD if pair not in seen]
    assert not stale, f"remove these from KNOWN_UPWARD, the code no longer does them: {stale}"


# --- inside the app: features see the app only through explorer/app/host.py -------------------------

# The modules that draw (and so may know the controller they draw from).
CONTROLLER_USERS = ("explorer.app.window", "explorer.app.shortcuts", "explorer.app.panels")
HOST = "explorer.app.host"
CONTROLLER = "explorer.app.controller"


def under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def app_imports() -> dict[str, set[str]]:
    """Each explorer.app module and the modules of ours it imports (lazy and TYPE_CHECKING ones too)."""
    modules = source_modules()
    known = set(modules)
    return {module: {name for _, name in imported_modules(module, path, known)}
            for module, path in modules.items() if under(module, ("explorer.app",))}


def feature_modules(imports: dict[str, set[str]]) -> set[str]:
    """The modules that build on the host protocol, apart from the controller (which implements it)
    and the drawing modules."""
    return {m for m, targets in imports.items()
            if HOST in targets and m != CONTROLLER and not under(m, CONTROLLER_USERS)}


def test_only_the_window_and_the_panels_import_the_controller():
    bad = sorted(m for m, targets in app_imports().items()
                 if CONTROLLER in targets and not under(m, CONTROLLER_USERS))
    assert not bad, ("these modules import the controller; a feature uses the AppHost protocol of "
                     f"explorer/app/host.py instead (ARCHITECTURE.md): {bad}")


def test_features_reach_each_other_only_through_the_host():
    imports = app_imports()
    features = feature_modules(imports)
    # The features the controller owns today; one that stopped using the host would escape the rule.
    assert {"explorer.app.direction_sets", "explorer.app.projections", "explorer.app.train_runs",
            "explorer.app.doctor", "explorer.app.recording", "explorer.app.downloads",
            "explorer.app.mixing_views"} <= features
    assert not imports[HOST] & (features | {CONTROLLER}), "the host protocol must not import what uses it"
    bad = sorted(f"{m} imports {t}" for m in features for t in imports[m]
                 if t in features or under(t, CONTROLLER_USERS))
    assert not bad, "a feature reaches another one (or the drawing code) directly:\n" + "\n".join(bad)
