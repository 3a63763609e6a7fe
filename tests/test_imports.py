"""No import cycles in `vsr`: every `import` of a `vsr` module (at module level, inside functions
and under TYPE_CHECKING alike) is an edge, and the graph of the package's modules is acyclic."""

from __future__ import annotations

import ast
from pathlib import Path

import vsr

PACKAGE = Path(vsr.__file__).parent


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("vsr", *path.relative_to(PACKAGE).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("vsr") and target != name:
                found.add(target)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_is_read():
    modules = module_names()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert "vsr.nn.basicvsrpp" in graph["vsr.nn.checkpoint"]
    assert "vsr.nn.weights" in graph["vsr.nn.spynet"]


def test_no_import_cycles():
    modules = module_names()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    # A package's __init__ re-exporting its own submodules is no cycle (`vsr.nn` imports
    # `vsr.nn.checkpoint`); a submodule importing its package back would be.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# What each part may import (docs/architecture.md): the network and the metrics stand alone,
# the data knows no model and the model no data, inference needs only the network (and what
# an exported graph says of itself), entry points sit on top.
ALLOWED = {
    "nn": set(),
    "metrics": set(),
    "data": set(),
    "inference": {"nn", "export"},
    "models": {"nn", "metrics"},
    "callbacks": {"nn", "metrics", "data", "models"},
    "evaluation": {"nn", "metrics", "data"},
    "bench": {"nn", "metrics", "data", "inference", "export"},
    "report": {"nn", "metrics", "data", "bench"},
    "export": {"nn"},
    "training": {"nn", "metrics", "data", "models", "callbacks", "config"},
    "config": set(),
    "frames": set(),
    "machine": set(),
}
BASE = {"frames", "machine"}  # frame naming and order, the machine and device: every part may use
NO_TRAINING_STACK = ("nn", "metrics", "inference")  # usable without Lightning or Hydra


def part_of(module: str) -> str:
    # `vsr` itself only re-exports the network.
    return module.split(".")[1] if "." in module else "nn"


def test_each_part_imports_only_what_it_may():
    modules = module_names()
    wrong = []
    for name, path in modules.items():
        part = part_of(name)
        if part not in ALLOWED:  # cli: on top of everything; nothing imports it
            continue
        for target in imports_of(name, path, modules):
            if part_of(target) not in ALLOWED[part] | BASE | {part}:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)
    importers_of_cli = [n for n, p in modules.items() if part_of(n) != "cli"]
    assert not [
        n
        for n in importers_of_cli
        if any(part_of(t) == "cli" for t in imports_of(n, modules[n], modules))
    ]


def test_network_metrics_and_inference_need_no_training_stack():
    wrong = []
    for name, path in module_names().items():
        if part_of(name) not in NO_TRAINING_STACK:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            wrong += [
                f"{name} imports {r}" for r in roots if r in ("lightning", "hydra", "omegaconf")
            ]
    assert not wrong, "\n".join(wrong)
