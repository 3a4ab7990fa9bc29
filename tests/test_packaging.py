"""The project's own promises: packaging complete, README and CI in step, import stays light."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import tomllib
from conftest import ROOT


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_every_built_in_plugin_is_an_entry_point_of_its_own_distribution():
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["dpzoo"]
    plugins = {p.name for p in (ROOT / "plugins").iterdir() if (p / "plugin.py").exists()}
    assert {v.split(".")[2] for v in entry_points.values()} == plugins


def test_ci_runs_the_readme_commands_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme.split("## Set up")[1].split("\n## ")[0], re.S)
    commands = [block.strip() for block in blocks]
    assert len(commands) == 2, "the README's set-up is two commands"
    ci = (ROOT / ".ci/run").read_text()
    for command in commands:
        assert command in ci


def test_tools_train_is_dpzoo_train():
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools/train.py"), "--help"], capture_output=True, text=True, check=True
    )
    assert "--resume" in out.stdout and "--set" in out.stdout


def core_imports() -> dict[str, set[str]]:
    """dpzoo module -> the dpzoo modules it imports anywhere in its text (inside functions too)."""
    modules = {}
    for path in (ROOT / "core").rglob("*.py"):
        parts = path.relative_to(ROOT / "core").with_suffix("").parts
        package = ("dpzoo", *parts[:-1])
        name = ".".join(package if parts[-1] == "__init__" else (*package, parts[-1]))
        modules[name] = (path, package)
    graph = {}
    for name, (path, package) in modules.items():
        edges = set()
        tree = ast.parse(path.read_text())
        # `if TYPE_CHECKING:` imports are annotations only: never executed, so no layer is entered
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join((*anchor, *(node.module.split(".") if node.module else ())))
                for alias in node.names:  # `from . import sources` imports a module; `from .x import f` imports x
                    edges.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = edges & set(modules) - {name}
    return graph


def test_the_core_imports_in_layers_without_cycles():
    """STYLE: a lower layer never imports a higher one, even inside a function: no module reaches itself."""
    graph = core_imports()
    assert {"dpzoo.pretrained", "dpzoo.pretrained.loading", "dpzoo.components", "dpzoo.cli"} <= set(graph)

    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for child in graph[todo.pop()] - seen:
                seen.add(child)
                todo.append(child)
        return seen

    cycles = {name for name in graph if name in reaches(name)}
    assert not cycles, f"modules that import themselves through others: {sorted(cycles)}"
