"""``dpzoo new-plugin``: the package it writes installs, is listed, trains and passes its own tests.

The package is pip-installed for real (offline, no dependencies, as
``test_example_plugin.py`` installs the example) into a temporary folder;
dpzoo then runs in subprocesses with ``PYTHONPATH`` pointing there, so the
shared environment is never modified.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dpzoo.cli import main
from dpzoo.errors import ConfigError
from dpzoo.scaffold import new_plugin

REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], site: Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("DPZOO_LOAD_PLUGINS", "DPZOO_DISABLE_PLUGINS")}
    environ["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    environ.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """``dpzoo new-plugin demo`` then ``pip install`` of what it wrote: (the package folder, the install target)."""
    pytest.importorskip("setuptools", reason="building the plugin needs setuptools")
    work = tmp_path_factory.mktemp("new-plugin")
    assert main(["new-plugin", "demo", "--dir", str(work)]) == 0
    source, site = work / "dpzoo-plugin-demo", work / "site"
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*command, "--target", str(site), str(source)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return source, site


@pytest.mark.slow
def test_new_plugin_demo_installs_is_listed_and_trains(installed, tmp_path):
    source, site = installed
    listed = run(["-m", "dpzoo.cli", "plugins", "--json"], site)
    assert listed.returncode == 0, listed.stderr
    demo = {p["name"]: p for p in json.loads(listed.stdout)}["demo"]
    assert demo["status"] == "ok", demo["error"]
    assert demo["distribution"] == "dpzoo-plugin-demo" and demo["module"] == "dpzoo_plugin_demo.plugin"
    assert demo["registers"] == {"model": ["demo_model"], "dataset": ["demo_data"]}

    trained = run(
        ["-m", "dpzoo.cli", "train", "--model", "demo_model", "--data", "demo_data", "--epochs", "3",
         "--set", "trainer.threads=1", "--logdir", str(tmp_path), "--run-name", "demo"],
        site,
    )  # fmt: skip
    assert trained.returncode == 0, f"training failed:\n{trained.stdout[-3000:]}\n{trained.stderr[-3000:]}"
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert 0.0 <= metrics["test/accuracy"] <= 1.0 and metrics["test/loss"] > 0, metrics


@pytest.mark.slow
def test_the_written_plugins_own_tests_pass_against_the_installed_package(installed):
    source, site = installed
    result = run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(source), str(source / "tests")],
        site,
        cwd=source,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"4 passed", summary) and "skipped" not in summary, summary


def test_new_plugin_writes_the_package_layout_with_its_names(tmp_path):
    root = new_plugin("my_topic", tmp_path)
    assert root == tmp_path / "dpzoo-plugin-my-topic"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/dpzoo_plugin_my_topic/__init__.py",
        "src/dpzoo_plugin_my_topic/data.py",
        "src/dpzoo_plugin_my_topic/model.py",
        "src/dpzoo_plugin_my_topic/plugin.py",
        "tests/test_dpzoo_plugin_my_topic.py",
    ]
    project = (root / "pyproject.toml").read_text()
    assert 'name = "dpzoo-plugin-my-topic"' in project.splitlines()
    assert '[project.entry-points.dpzoo]\nmy_topic = "dpzoo_plugin_my_topic.plugin"' in project
    plugin = (root / "src/dpzoo_plugin_my_topic/plugin.py").read_text()
    assert '"my_topic_model", "dpzoo_plugin_my_topic.model:Model"' in plugin
    assert '"my_topic_data", "dpzoo_plugin_my_topic.data:Data"' in plugin


@pytest.mark.parametrize("name", ["Demo", "1demo", "my-topic", "class", ""])
def test_a_name_that_cannot_name_a_package_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="must be lowercase letters, digits and underscores"):
        new_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "dpzoo-plugin-demo").mkdir()
    assert main(["new-plugin", "demo", "--dir", str(tmp_path)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert list((tmp_path / "dpzoo-plugin-demo").iterdir()) == []
