"""Third-party plugins, installed for real: the example template and a broken one.

Each package under ``examples/`` is pip-installed (offline, no dependencies)
into a temporary folder once per module; dpzoo then runs in subprocesses with
``PYTHONPATH`` pointing there, so the shared environment is never modified.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
ENV_SWITCHES = ("DPZOO_LOAD_PLUGINS", "DPZOO_DISABLE_PLUGINS", "DPZOO_STRICT_PLUGINS")


def pip_install(package: str, tmp_path_factory) -> Path:
    """``pip install --target`` a copy of ``examples/<package>`` (the copy keeps build files out of the repo)."""
    pytest.importorskip("setuptools", reason="building the example plugins needs setuptools")
    work = tmp_path_factory.mktemp(package)
    source, site = work / "source", work / "site"
    shutil.copytree(
        EXAMPLES / package, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache")
    )
    # --no-index and no pip config: the install must work offline.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*command, "--target", str(site), str(source)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"pip install {package} failed:\n{result.stdout}\n{result.stderr}"
    return site


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    return pip_install("dpzoo-plugin-example", tmp_path_factory)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    return pip_install("dpzoo-plugin-broken", tmp_path_factory)


def run(args: list[str], *sites: Path, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` from the repository root with ``sites`` on the path and no plugin switches."""
    environ = {k: v for k, v in os.environ.items() if k not in ENV_SWITCHES}
    environ["PYTHONPATH"] = os.pathsep.join([*map(str, sites), *filter(None, [os.environ.get("PYTHONPATH")])])
    environ.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=environ, capture_output=True, text=True, timeout=timeout
    )


def dpzoo(*args: str, sites: tuple[Path, ...] = (), **env: str) -> subprocess.CompletedProcess:
    return run(["-m", "dpzoo.cli", *args], *sites, **env)


def dpzoo_json(*args: str, sites: tuple[Path, ...] = (), **env: str):
    result = dpzoo(*args, "--json", sites=sites, **env)
    assert result.returncode == 0, f"dpzoo {' '.join(args)} failed:\n{result.stderr}"
    return json.loads(result.stdout)


def by_name(plugins: list[dict]) -> dict[str, dict]:
    return {p["name"]: p for p in plugins}


# -- the example plugin --------------------------------------------------------------


def test_installed_example_is_listed_with_what_it_registers(example_site):
    example = by_name(dpzoo_json("plugins", sites=(example_site,)))["example"]
    assert example["status"] == "ok", example["error"]
    assert example["error"] is None
    assert example["module"] == "dpzoo_plugin_example.plugin"
    assert example["distribution"] == "dpzoo-plugin-example"
    assert example["version"] == "0.1.0"
    assert example["registers"] == {"model": ["tiny_gan", "tiny_mlp"], "dataset": ["two_moons"]}


def test_shared_environment_is_untouched(example_site):
    import importlib.util

    if importlib.util.find_spec("dpzoo_plugin_example") is not None:
        pytest.skip(
            "the example plugin is installed in this environment itself, so it is listed without the temporary path"
        )
    assert "example" not in by_name(dpzoo_json("plugins")), "the example must only be on the temporary path"


def test_list_includes_the_example_components(example_site):
    entries = dpzoo_json("list", sites=(example_site,))
    rows = {(e["kind"], e["name"]): e for e in entries}
    assert rows[("model", "tiny_mlp")]["plugin"] == "example"
    assert "MLP" in rows[("model", "tiny_mlp")]["summary"]
    assert rows[("dataset", "two_moons")]["plugin"] == "example"
    assert ("model", "mlp") in rows, "built-in components are listed beside the plugin's"

    only = dpzoo_json("list", "tiny*", "--kind", "model", sites=(example_site,))
    assert [(e["kind"], e["name"]) for e in only] == [("model", "tiny_gan"), ("model", "tiny_mlp")]


def test_allow_list_by_distribution_name_loads_only_the_example(example_site):
    plugins = by_name(dpzoo_json("plugins", sites=(example_site,), DPZOO_LOAD_PLUGINS="dpzoo-plugin-example"))
    assert plugins["example"]["status"] == "ok"
    assert {p["status"] for name, p in plugins.items() if name != "example"} == {"disabled"}


def test_example_trains_with_the_harness(example_site, tmp_path):
    result = run(
        [
            "tools/train.py",
            "--model", "tiny_mlp",
            "--data", "two_moons",
            "--epochs", "2",
            "--logdir", str(tmp_path),
            "--run-name", "ex",
        ],
        example_site,
    )  # fmt: skip
    assert result.returncode == 0, f"training failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    metrics = json.loads((tmp_path / "ex" / "metrics.json").read_text())
    assert 0.0 <= metrics["test/accuracy"] <= 1.0, metrics
    # Two moons are nearly separable: even two short epochs beat a coin toss.
    assert metrics["test/accuracy"] > 0.75, metrics


def test_example_template_tests_pass(example_site):
    """The template ships its own tests; they pass against the installed package."""
    tests = EXAMPLES / "dpzoo-plugin-example" / "tests"
    result = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)], example_site)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and not re.search(r"\d+ skipped", summary), (
        f"the template's tests did not all run against the installed package: {summary}"
    )


# -- the broken plugin ----------------------------------------------------------------


def test_broken_plugins_are_reported_not_fatal(broken_site):
    result = dpzoo("plugins", "--json", sites=(broken_site,))
    assert result.returncode == 0, result.stderr
    plugins = by_name(json.loads(result.stdout))

    missing = plugins["broken_import"]
    assert missing["status"] == "broken"
    assert missing["distribution"] == "dpzoo-plugin-broken" and missing["version"] == "0.0.1"
    assert "dpzoo_plugin_broken_missing_dependency" in missing["error"]

    misspelt = plugins["misspelt_hook"]
    assert misspelt["status"] == "broken"
    assert "dpzoo_register_model'" in misspelt["error"] and "dpzoo_register_models" in misspelt["error"]
    assert misspelt["registers"] == {}

    assert plugins["mlp"]["status"] == "ok", "the built-in plugins still load"


def test_list_still_works_beside_broken_plugins(broken_site, example_site):
    result = dpzoo("list", "--json", sites=(broken_site, example_site))
    assert result.returncode == 0, result.stderr
    names = {e["name"] for e in json.loads(result.stdout)}
    assert {"mlp", "tiny_mlp", "two_moons"} <= names
    assert not names & {"unreachable", "never_registered"}
    # skipped with a warning that names each broken plugin
    assert "broken_import" in result.stderr and "misspelt_hook" in result.stderr


@pytest.mark.parametrize("command", [["plugins", "--json"], ["list"]])
def test_strict_mode_makes_a_broken_plugin_fatal(broken_site, command):
    result = dpzoo(*command, sites=(broken_site,), DPZOO_STRICT_PLUGINS="1")
    assert result.returncode != 0, "strict mode should fail on a broken plugin"
    message = result.stdout + result.stderr
    assert "broken_import" in message, message
    assert "Traceback" not in result.stderr, f"the error should be a message, not a traceback:\n{result.stderr}"


def test_disabling_the_broken_plugins_satisfies_strict_mode(broken_site):
    result = dpzoo(
        "list",
        "--json",
        sites=(broken_site,),
        DPZOO_STRICT_PLUGINS="1",
        DPZOO_DISABLE_PLUGINS="broken_import,misspelt_hook",
    )
    assert result.returncode == 0, result.stderr
    assert "mlp" in {e["name"] for e in json.loads(result.stdout)}
