"""Plugin commands (hookspec dpzoo_register_commands): added to ``dpzoo``, and a broken one reported."""

from __future__ import annotations

import pytest
from conftest import run_cli

import dpzoo
from dpzoo import cli
from dpzoo.plugin_manager import PluginWarning


class Greeter:
    @dpzoo.hookimpl
    def dpzoo_register_commands(self, subparsers):
        p = subparsers.add_parser("greet", help="say hello")
        p.add_argument("name")
        p.add_argument("--shout", action="store_true")
        p.set_defaults(handler=lambda args: print(f"hello {args.name}{'!' if args.shout else ''}") or 3)


class HalfBroken:
    """Adds one command, then clashes with the built-in 'train': argparse raises."""

    @dpzoo.hookimpl
    def dpzoo_register_models(self, register):
        register("half_broken_model", dpzoo.Model)

    @dpzoo.hookimpl
    def dpzoo_register_commands(self, subparsers):
        subparsers.add_parser("half", help="added before the failure")
        subparsers.add_parser("train", help="clashes")


@pytest.fixture
def greeter():
    dpzoo.register_plugin(Greeter(), name="test_greeter")
    yield
    dpzoo.unregister_plugin("test_greeter")


def test_a_plugin_adds_a_command_whose_handler_gives_the_exit_code(greeter, capsys):
    assert cli.main(["greet", "ada", "--shout"]) == 3
    assert capsys.readouterr().out == "hello ada!\n"
    assert "say hello" in cli.build_parser().format_help()


def test_a_broken_command_plugin_is_reported_and_undone_while_the_others_work(greeter, capsys):
    dpzoo.register_plugin(HalfBroken(), name="test_half_broken")
    try:
        with pytest.warns(PluginWarning, match=r"test_half_broken.*command registration failed.*train"):
            parser = cli.build_parser()
        commands = parser._subparsers._group_actions[0].choices
        assert "half" not in commands and "greet" in commands and "train" in commands
        report = {p["name"]: p for p in dpzoo.list_plugins()}["test_half_broken"]
        assert report["status"] == "broken" and "command registration failed" in report["error"]
        assert "half_broken_model" not in dpzoo.list_models()  # no half-loaded plugin
        capsys.readouterr()
        assert cli.main(["greet", "bob"]) == 3  # the broken plugin is out: no second warning, the rest works
        assert capsys.readouterr().out == "hello bob\n"
    finally:
        dpzoo.unregister_plugin("test_half_broken")


def test_the_data_plugin_shows_the_way_with_dpzoo_data():
    result = run_cli("data", "digits")
    assert result.returncode == 0, result.stderr
    assert "train: 1257 examples" in result.stdout and '"num_classes": 10' in result.stdout
