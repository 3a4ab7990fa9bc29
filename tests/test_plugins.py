"""The plugin system: discovery, names, broken plugins and the loading switches.

Plugins here are registered in-process with ``dpzoo.register_plugin``; the
installed-package path (entry points, the CLI) is covered by
``test_example_plugin.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
import warnings

import pytest

import dpzoo
from dpzoo import plugin_manager
from dpzoo.plugin_manager import PluginWarning
from dpzoo.registry import KINDS

ENV_SWITCHES = ("DPZOO_LOAD_PLUGINS", "DPZOO_DISABLE_PLUGINS", "DPZOO_STRICT_PLUGINS")


def reload_quietly() -> None:
    """Rediscover the installed plugins without the warnings of ones still being written."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        dpzoo.reload_plugins()


@pytest.fixture(autouse=True)
def fresh_plugins():
    """Each test starts from, and leaves behind, the installed plugins and no switches."""
    saved = {name: os.environ.pop(name, None) for name in ENV_SWITCHES}
    reload_quietly()
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reload_quietly()


def models_plugin(*names: str, **info):
    """A plugin object that registers each name as a model (the target is a plain object)."""

    @dpzoo.hookimpl
    def dpzoo_register_models(register):
        for name in names:
            register(name, object(), **info)

    return types.SimpleNamespace(dpzoo_register_models=dpzoo_register_models)


def plugin_report(name: str) -> dict:
    return next(p for p in dpzoo.list_plugins() if p["name"] == name)


# -- import cost ---------------------------------------------------------------


def test_import_and_listing_load_no_torch():
    """Listing reads plugin.py files and the zoo's index only; torch and model code load on first use."""
    code = textwrap.dedent(
        """
        import sys, warnings
        warnings.simplefilter("ignore")
        import dpzoo
        assert "torch" not in sys.modules, "import dpzoo imported torch"
        dpzoo.list_models()
        assert "torch" not in sys.modules, "dpzoo.list_models() imported torch"
        from dpzoo.registry import KINDS
        for kind in KINDS:
            dpzoo.list_components(kind)
        assert "mlp.digits" in dpzoo.list_models(pretrained=True), "the shipped zoo is listed"
        dpzoo.list_plugins()
        dpzoo.__version__
        heavy = sorted(m for m in ("torch", "datasets", "sklearn") if m in sys.modules)
        assert not heavy, f"listing every kind imported {heavy}: some plugin.py imports heavy code"
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ENV_SWITCHES}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_every_builtin_plugin_loads():
    broken = {
        p["name"]: p["error"] for p in dpzoo.list_plugins() if p["distribution"] == "dpzoo" and p["status"] != "ok"
    }
    assert not broken, f"built-in plugins not loading: {broken}"


# -- names ---------------------------------------------------------------------


def test_wildcard_listing_matches_short_and_qualified_names():
    dpzoo.register_plugin(models_plugin("alpha_small", "alpha_large", "beta"), name="greek")
    assert dpzoo.list_models("alpha*") == ["alpha_large", "alpha_small"]
    assert dpzoo.list_models("*_small") == ["alpha_small"]
    assert dpzoo.list_models("greek:*") == ["alpha_large", "alpha_small", "beta"]
    assert dpzoo.list_models("gamma*") == []
    assert dpzoo.list_components("dataset", "alpha*") == [], "kinds are listed separately"
    assert {"alpha_large", "alpha_small", "beta", "mlp"} <= set(dpzoo.list_models())


def test_qualified_name_resolves():
    dpzoo.register_plugin(models_plugin("resolvable", summary="a one-liner"), name="qual")
    entry = dpzoo.get("model", "qual:resolvable")
    assert (entry.name, entry.plugin, entry.qualified_name) == ("resolvable", "qual", "qual:resolvable")
    assert entry is dpzoo.get("model", "resolvable")
    assert entry.summary == "a one-liner"
    assert dpzoo.get("model", "mlp:mlp").plugin == "mlp"


def test_same_name_from_two_plugins_is_ambiguous_but_qualified_names_resolve():
    first, second = object(), object()

    class First:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            register("twin", first)

    class Second:
        @dpzoo.hookimpl
        def dpzoo_register_models(self, register):
            register("twin", second)

    assert dpzoo.register_plugin(First(), name="first").status == "ok"
    assert dpzoo.register_plugin(Second(), name="second").status == "ok"

    with pytest.raises(dpzoo.AmbiguousNameError) as excinfo:
        dpzoo.get("model", "twin")
    assert excinfo.value.qualified == ["first:twin", "second:twin"]
    assert "first:twin" in str(excinfo.value) and "second:twin" in str(excinfo.value)
    with pytest.raises(dpzoo.AmbiguousNameError):
        dpzoo.create_model("twin")

    assert dpzoo.get("model", "first:twin").load() is first
    assert dpzoo.get("model", "second:twin").load() is second
    assert dpzoo.list_models("twin") == ["twin"]


def test_a_plugin_shadowing_a_builtin_name_does_not_replace_it():
    dpzoo.register_plugin(models_plugin("mlp"), name="impostor")
    with pytest.warns(dpzoo.registry.ShadowWarning, match="impostor:mlp"):
        assert dpzoo.get("model", "mlp").target == "dpzoo.plugins.mlp.model:MLP"  # the built-in wins (issue 9)
    assert dpzoo.get("model", "impostor:mlp").plugin == "impostor"


def test_unknown_names_suggest_close_ones():
    with pytest.raises(dpzoo.UnknownNameError) as excinfo:
        dpzoo.create_model("mpl")
    message = str(excinfo.value)
    assert "'mlp'" in message or "mlp?" in message, message
    assert "dpzoo list" in message, "the error should say how to see every name"
    assert isinstance(excinfo.value, LookupError)

    with pytest.raises(dpzoo.UnknownNameError, match="model"):
        dpzoo.get("modle", "mlp")  # a misspelt kind suggests the kind

    with pytest.raises(dpzoo.UnknownNameError, match="mlp:mlp"):
        dpzoo.get("model", "mlp:mpl")  # a qualified misspelling suggests qualified names


def test_unregister_plugin_removes_its_components_and_report():
    dpzoo.register_plugin(models_plugin("ephemeral"), name="passing")
    assert "ephemeral" in dpzoo.list_models()
    dpzoo.unregister_plugin("passing")
    assert "ephemeral" not in dpzoo.list_models()
    assert all(p["name"] != "passing" for p in dpzoo.list_plugins())


def test_report_says_what_a_plugin_registers():
    @dpzoo.hookimpl
    def dpzoo_register_datasets(register):
        register("toy_data", object())

    plugin = models_plugin("toy_b", "toy_a")
    plugin.dpzoo_register_datasets = dpzoo_register_datasets
    dpzoo.register_plugin(plugin, name="reporting")
    report = plugin_report("reporting")
    assert report["status"] == "ok" and report["error"] is None
    assert report["registers"] == {"model": ["toy_a", "toy_b"], "dataset": ["toy_data"]}
    assert set(report) == {"name", "module", "distribution", "version", "status", "error", "registers"}


def test_registering_a_taken_plugin_name_is_refused_and_keeps_the_first_report():
    dpzoo.register_plugin(models_plugin("owned"), name="taken")
    with pytest.raises(ValueError, match="a plugin named 'taken' is already loaded.*unregister_plugin"):
        dpzoo.register_plugin(models_plugin("intruder"), name="taken")
    assert "intruder" not in dpzoo.list_models()
    assert plugin_report("taken")["status"] == "ok"
    assert plugin_report("taken")["registers"] == {"model": ["owned"]}


# -- broken plugins --------------------------------------------------------------


def misspelt_plugin():
    @dpzoo.hookimpl
    def dpzoo_register_model(register):  # the hook is dpzoo_register_models
        register("never_seen", object())

    return types.SimpleNamespace(dpzoo_register_model=dpzoo_register_model)


def test_misspelt_hook_is_reported_broken_with_the_right_name():
    with pytest.warns(PluginWarning, match="typo"):
        info = dpzoo.register_plugin(misspelt_plugin(), name="typo")
    assert info.status == "broken"
    assert "dpzoo_register_model'" in info.error and "dpzoo_register_models" in info.error
    assert plugin_report("typo")["status"] == "broken"
    assert "never_seen" not in dpzoo.list_models()
    assert "mlp" in dpzoo.list_models(), "a broken plugin must not break the others"


def test_misspelt_hook_is_fatal_in_strict_mode(monkeypatch):
    dpzoo.list_plugins()  # load the installed plugins before turning strict mode on
    monkeypatch.setenv("DPZOO_STRICT_PLUGINS", "1")
    with pytest.raises(dpzoo.PluginError, match="typo.*dpzoo_register_models"):
        dpzoo.register_plugin(misspelt_plugin(), name="typo")
    assert "never_seen" not in dpzoo.list_models()


def failing_plugin():
    @dpzoo.hookimpl
    def dpzoo_register_models(register):
        register("half_done", object())

    @dpzoo.hookimpl
    def dpzoo_register_datasets(register):  # runs after the models hook
        register("also_half_done", object())
        raise RuntimeError("cannot find my data files")

    return types.SimpleNamespace(
        dpzoo_register_models=dpzoo_register_models, dpzoo_register_datasets=dpzoo_register_datasets
    )


def test_raising_register_hook_is_broken_and_its_partial_registrations_dropped():
    with pytest.warns(PluginWarning, match="half"):
        info = dpzoo.register_plugin(failing_plugin(), name="half")
    assert info.status == "broken"
    assert "RuntimeError" in info.error and "cannot find my data files" in info.error
    assert "half_done" not in dpzoo.list_models()
    assert "also_half_done" not in dpzoo.list_components("dataset")
    assert info.registers == {}
    with pytest.raises(dpzoo.UnknownNameError):
        dpzoo.get("model", "half:half_done")


def test_raising_register_hook_is_fatal_in_strict_mode(monkeypatch):
    dpzoo.list_plugins()
    monkeypatch.setenv("DPZOO_STRICT_PLUGINS", "1")
    with pytest.raises(dpzoo.PluginError, match="half.*cannot find my data files"):
        dpzoo.register_plugin(failing_plugin(), name="half")
    assert "half_done" not in dpzoo.list_models()


@pytest.mark.parametrize("bad_name", ["", "has:colon"])
def test_invalid_component_names_break_the_plugin(bad_name):
    with pytest.warns(PluginWarning):
        info = dpzoo.register_plugin(models_plugin("fine", bad_name), name="badname")
    assert info.status == "broken"
    assert "fine" not in dpzoo.list_models()


# -- the loading switches ----------------------------------------------------------


def builtin_names() -> set[str]:
    return {p["name"] for p in dpzoo.list_plugins() if p["distribution"] == "dpzoo"}


def test_load_plugins_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("DPZOO_LOAD_PLUGINS", "mlp")
    reload_quietly()
    statuses = {p["name"]: p["status"] for p in dpzoo.list_plugins()}
    assert statuses["mlp"] == "ok"
    assert all(status == "disabled" for name, status in statuses.items() if name != "mlp"), statuses
    assert dpzoo.list_models() == ["mlp"]
    for kind in KINDS:
        assert all(e.plugin == "mlp" for e in plugin_manager.host().registry.entries(kind)), kind


def test_load_plugins_accepts_a_distribution_name(monkeypatch):
    monkeypatch.setenv("DPZOO_LOAD_PLUGINS", "dpzoo")
    reload_quietly()
    plugins = dpzoo.list_plugins()  # other installed distributions' plugins stay off
    assert all(p["status"] != "disabled" for p in plugins if p["distribution"] == "dpzoo"), plugins
    assert all(p["status"] == "disabled" for p in plugins if p["distribution"] != "dpzoo"), plugins


def test_load_plugins_set_but_empty_loads_nothing(monkeypatch):
    monkeypatch.setenv("DPZOO_LOAD_PLUGINS", "")
    reload_quietly()
    plugins = dpzoo.list_plugins()
    assert plugins, "disabled plugins are still listed"
    assert {p["status"] for p in plugins} == {"disabled"}
    assert {p["name"] for p in plugins} >= {"mlp"}
    for kind in set(KINDS) - {"pretrained"}:  # the shipped zoo is data, listed without any plugin
        assert dpzoo.list_components(kind) == [], kind
    # code can still add a plugin by hand
    dpzoo.register_plugin(models_plugin("by_hand"), name="manual")
    assert dpzoo.list_models() == ["by_hand"]


def test_disable_plugins_marks_them_disabled(monkeypatch):
    monkeypatch.setenv("DPZOO_DISABLE_PLUGINS", " mlp , no_such_plugin ")
    reload_quietly()
    assert plugin_report("mlp")["status"] == "disabled"
    assert plugin_report("mlp")["registers"] == {}
    assert "mlp" not in dpzoo.list_models()
    with pytest.raises(dpzoo.UnknownNameError):
        dpzoo.create_model("mlp")
    others = builtin_names() - {"mlp"}
    assert all(plugin_report(name)["status"] != "disabled" for name in others)


def test_reload_picks_up_changed_switches(monkeypatch):
    monkeypatch.setenv("DPZOO_DISABLE_PLUGINS", "mlp")
    assert "mlp" in dpzoo.list_models(), "the switches are read when plugins load, not on every call"
    reload_quietly()
    assert "mlp" not in dpzoo.list_models()
    monkeypatch.delenv("DPZOO_DISABLE_PLUGINS")
    reload_quietly()
    assert "mlp" in dpzoo.list_models()


# -- lazy targets -------------------------------------------------------------------


@pytest.fixture
def probe_modules(tmp_path, monkeypatch):
    """Two importable modules: one that records its import, one that fails to import."""
    (tmp_path / "dpzoo_lazy_probe.py").write_text("IMPORTED = True\n\nclass Thing:\n    pass\n")
    (tmp_path / "dpzoo_lazy_broken.py").write_text("raise ImportError('needs a package that is not installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("dpzoo_lazy_probe", "dpzoo_lazy_broken"):
        sys.modules.pop(name, None)


def test_lazy_targets_import_only_on_load(probe_modules):
    @dpzoo.hookimpl
    def dpzoo_register_models(register):
        register("probe", "dpzoo_lazy_probe:Thing", summary="records its import")
        register("unloadable", "dpzoo_lazy_broken:Thing")

    dpzoo.register_plugin(types.SimpleNamespace(dpzoo_register_models=dpzoo_register_models), name="lazy")
    assert plugin_report("lazy")["status"] == "ok"
    assert {"probe", "unloadable"} <= set(dpzoo.list_models())
    entry = dpzoo.get("model", "probe")
    assert entry.is_lazy and entry.summary == "records its import"
    assert "dpzoo_lazy_probe" not in sys.modules, "listing or looking up must not import the target"

    thing = entry.load()
    assert thing.__name__ == "Thing" and "dpzoo_lazy_probe" in sys.modules
    assert entry.load() is thing

    assert dpzoo.list_models("unloadable") == ["unloadable"], "a target that cannot import still lists"
    with pytest.raises(
        dpzoo.PluginError, match="'lazy:unloadable' could not be loaded.*needs a package that is not installed"
    ):
        dpzoo.get("model", "unloadable").load()


def test_entry_point_plugins_are_lazy_too():
    """The built-in MLP is registered by a string: listing it did not import its module."""
    entry = dpzoo.get("model", "mlp")
    assert entry.is_lazy and entry.target == "dpzoo.plugins.mlp.model:MLP"
    assert entry.distribution == "dpzoo" and entry.version == dpzoo.__version__


# -- entry-point discovery with fake entry points ------------------------------------


class FakeEntryPoint:
    """Stands in for importlib.metadata.EntryPoint (name, value, dist, load)."""

    def __init__(self, name, module, dist_name, version="1.0", plugin=None, error=None):
        self.name, self.value, self.group = name, module, plugin_manager.ENTRY_POINT_GROUP
        self.dist = types.SimpleNamespace(name=dist_name, version=version)
        self._plugin, self._error = plugin, error

    def load(self):
        if self._error is not None:
            raise self._error
        return self._plugin


def discover(monkeypatch, *fakes):
    monkeypatch.setattr(plugin_manager, "entry_points", lambda group: list(fakes))
    reload_quietly()


def test_entry_point_that_fails_to_import_is_broken_with_its_distribution(monkeypatch):
    discover(
        monkeypatch,
        FakeEntryPoint("good", "good.plugin", "good-dist", "2.1", plugin=models_plugin("good_model")),
        FakeEntryPoint("bad", "bad.plugin", "bad-dist", error=ImportError("No module named 'missing_dep'")),
    )
    good, bad = plugin_report("good"), plugin_report("bad")
    assert (good["status"], good["distribution"], good["version"]) == ("ok", "good-dist", "2.1")
    assert good["registers"] == {"model": ["good_model"]}
    assert dpzoo.get("model", "good_model").version == "2.1"
    assert bad["status"] == "broken" and "missing_dep" in bad["error"] and "import failed" in bad["error"]


def test_entry_point_import_failure_is_fatal_in_strict_mode(monkeypatch):
    monkeypatch.setenv("DPZOO_STRICT_PLUGINS", "1")
    monkeypatch.setattr(
        plugin_manager,
        "entry_points",
        lambda group: [FakeEntryPoint("bad", "bad.plugin", "bad-dist", error=ImportError("missing_dep"))],
    )
    with pytest.raises(dpzoo.PluginError, match="'bad'.*missing_dep"):
        dpzoo.reload_plugins()


def test_allow_list_by_distribution_name(monkeypatch):
    monkeypatch.setenv("DPZOO_LOAD_PLUGINS", "second-dist")
    discover(
        monkeypatch,
        FakeEntryPoint("one", "one.plugin", "first-dist", plugin=models_plugin("from_one")),
        FakeEntryPoint("two", "two.plugin", "second-dist", plugin=models_plugin("from_two")),
    )
    assert plugin_report("one")["status"] == "disabled"
    assert plugin_report("two")["status"] == "ok"
    assert dpzoo.list_models() == ["from_two"]


def test_entry_point_name_clash_between_distributions_is_reported(monkeypatch):
    discover(
        monkeypatch,
        FakeEntryPoint("shared", "first.plugin", "first-dist", plugin=models_plugin("first_model")),
        FakeEntryPoint("shared", "second.plugin", "second-dist", plugin=models_plugin("second_model")),
    )
    reports = [p for p in dpzoo.list_plugins() if p["distribution"] in {"first-dist", "second-dist"}]
    assert len(reports) == 2, f"both distributions should be reported, got {reports}"
    assert any(p["status"] == "broken" and "shared" in (p["error"] or "") for p in reports)


@pytest.mark.parametrize(
    "value, on",
    [
        ("1", True),
        ("y", True),
        ("2", True),
        ("TRUE", True),
        (" on ", True),
        ("0", False),
        ("", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
def test_every_switch_reads_its_environment_variable_one_way(monkeypatch, value, on):
    """DPZOO_STRICT_PLUGINS and DPZOO_OFFLINE share dpzoo.env_flag: unset or an "off" word is off, anything else on."""
    from dpzoo.pretrained import sources

    monkeypatch.setenv("DPZOO_STRICT_PLUGINS", value)
    monkeypatch.setenv("DPZOO_OFFLINE", value)
    dpzoo.list_plugins()  # the installed plugins load before the switch is read
    assert dpzoo.env_flag("DPZOO_STRICT_PLUGINS") is on and sources.offline() is on
    monkeypatch.delenv("DPZOO_STRICT_PLUGINS")
    assert dpzoo.env_flag("DPZOO_STRICT_PLUGINS") is False
    monkeypatch.setenv("DPZOO_STRICT_PLUGINS", value)
    if on:
        with pytest.raises(dpzoo.PluginError, match="DPZOO_STRICT_PLUGINS"):
            dpzoo.register_plugin(misspelt_plugin(), name="typo")
    else:
        with pytest.warns(PluginWarning, match="unknown hook"):
            dpzoo.register_plugin(misspelt_plugin(), name="typo")


def test_the_version_is_the_installed_distributions():
    from importlib.metadata import version

    from dpzoo.cli import main

    assert dpzoo.__version__ == version("dpzoo")
    with pytest.raises(SystemExit):
        main(["--version"])
