"""The ``dpzoo`` command: list, info, plugins."""

from __future__ import annotations

import json

from conftest import run_cli


def test_list_shows_every_kind_and_filters_by_pattern_and_kind():
    out = run_cli("list").stdout
    for heading in ("models:", "losses:", "optimisers:", "relaxations:", "datasets:", "metrics:", "schedulers:"):
        assert heading in out
    rows = json.loads(run_cli("list", "m*", "--kind", "model", "--json").stdout)
    assert {r["name"] for r in rows} >= {"mlp"} and all(r["kind"] == "model" for r in rows)
    assert all(r["name"].startswith("m") for r in rows)
    assert rows[0]["plugin"] and rows[0]["summary"]


def test_info_lists_options_with_defaults_and_descriptions():
    result = run_cli("info", "mlp")
    assert result.returncode == 0
    assert "hidden = [128]" in result.stdout and "Width of each hidden layer" in result.stdout


def test_info_on_an_unknown_name_suggests_and_fails():
    result = run_cli("info", "adamm", "--kind", "optimiser")
    assert result.returncode == 2 and "adam" in result.stderr


def test_plugins_reports_the_built_ins_with_versions():
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "--json").stdout)}
    for name in ("mlp", "objectives", "optim", "relaxations", "data"):
        assert plugins[name]["status"] == "ok" and plugins[name]["distribution"] == "dpzoo"
    assert plugins["mlp"]["registers"]["model"] == ["mlp"]
    text = run_cli("plugins").stdout
    assert "mlp 0.1.0 [ok]" in text
