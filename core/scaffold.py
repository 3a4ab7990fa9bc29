"""``dpzoo new-plugin NAME [--dir DIR]``: a working plugin package, written from ``plugin_template/``.

The package is the distribution ``dpzoo-plugin-NAME`` with the import package
``dpzoo_plugin_NAME``, an entry point ``NAME`` in the ``dpzoo`` group, a model
``NAME_model``, a dataset ``NAME_data`` and its tests: ``pip install`` it and
``dpzoo train --model NAME_model --data NAME_data`` trains at once.
"""

from __future__ import annotations

import argparse
import keyword
import re
from pathlib import Path
from string import Template

from .errors import ConfigError

TEMPLATE = Path(__file__).with_name("plugin_template")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# template file -> where it goes in the new package ({package} is the import package's name)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "src/{package}/__init__.py",
    "plugin.py.tmpl": "src/{package}/plugin.py",
    "model.py.tmpl": "src/{package}/model.py",
    "data.py.tmpl": "src/{package}/data.py",
    "test_plugin.py.tmpl": "tests/test_{package}.py",
}


def new_plugin(name: str, parent: str | Path = ".") -> Path:
    """Write the plugin package ``NAME`` into ``parent/dpzoo-plugin-NAME``; returns that folder."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ConfigError(
            f"plugin name {name!r} must be lowercase letters, digits and underscores, starting with a letter "
            "(it names the entry point, the package dpzoo_plugin_NAME and the components NAME_model, NAME_data)"
        )
    values = {"name": name, "package": f"dpzoo_plugin_{name}", "distribution": f"dpzoo-plugin-{name.replace('_', '-')}"}
    root = Path(parent) / values["distribution"]
    if root.exists():
        raise ConfigError(f"{root} exists already; choose another --dir or NAME, or remove it")
    for template, target in FILES.items():
        path = root / target.format(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template((TEMPLATE / template).read_text()).substitute(values))
    return root


def add_parser(sub) -> None:
    p = sub.add_parser("new-plugin", help="write a working plugin package (model, dataset, tests) to start from")
    p.add_argument("name", help="the plugin's name: lowercase, e.g. 'demo' (gives demo_model and demo_data)")
    p.add_argument(
        "--dir",
        type=Path,
        default=Path("."),
        help="where to create dpzoo-plugin-NAME/ (default: ., the current folder)",
    )
    p.set_defaults(handler=cmd_new_plugin)


def cmd_new_plugin(args: argparse.Namespace) -> int:
    root = new_plugin(args.name, args.dir)
    print(f"wrote {root}")
    print(f"  cd {root} && pip install -e '.[test]'")
    print(f"  dpzoo train --model {args.name}_model --data {args.name}_data")
    print("  python -m pytest tests")
    return 0
