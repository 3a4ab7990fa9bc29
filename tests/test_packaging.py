"""The project's own promises: packaging complete, README and CI in step, import stays light."""

from __future__ import annotations

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


def test_import_loads_neither_torch_nor_plugins():
    code = "import sys, dpzoo; dpzoo.list_models(); assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_tools_train_is_dpzoo_train():
    out = subprocess.run([sys.executable, str(ROOT / "tools/train.py"), "--help"], capture_output=True, text=True, check=True)
    assert "--resume" in out.stdout and "--set" in out.stdout
