"""What does loading by name cost over loading the file by hand?

For each shipped entry, in one process, three ways to get the same model:

* ``by_hand``  - build the module from its known config, then
  ``safetensors.torch.load_file`` + ``load_state_dict`` (no checks at all);
* ``dpzoo``    - ``dpzoo.create_model(name, pretrained=True)``: name lookup,
  size + sha256 check (served by the verification cache after the first
  load), card read from the header, architecture built from the card, keys,
  shapes and dtypes checked, then the tensors loaded;
* ``dpzoo_cold`` - the same with the verification cache emptied before each
  load, so the whole file is hashed every time (a process's first load).

dpzoo builds the architecture without drawing its initial parameters (see
``dpzoo.pretrained.lazy_init``) and takes the file's tensors as its parameters without
copying them, skipping the random initialisation that ``by_hand`` pays for and
then overwrites; that is where it earns back its checks. The ratio that
matters for users who load a model more than once per process is ``dpzoo``'s;
``dpzoo_cold`` is the first load in a process.

Arms are interleaved over rounds and each round times ``--loads`` loads; the
median round is reported. The last line is one JSON object: seconds per load
per arm and entry, and each dpzoo arm's ratio to ``by_hand``.

    python benchmarks/zoo_load.py [--rounds 7] [--loads 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from safetensors.torch import load_file

import dpzoo
from dpzoo import pretrained
from dpzoo.pretrained import entries
from dpzoo.pretrained import sources as hub


def arm_by_hand(name: str, model_cls, config: dict, path: str):
    model = model_cls(model_cls.Config(**config))
    model.load_state_dict(load_file(path))
    return model


def arm_dpzoo(name: str, *_):
    return dpzoo.create_model(name, pretrained=True)


def arm_dpzoo_cold(name: str, *_):
    hub.forget_hashes()
    return dpzoo.create_model(name, pretrained=True)


ARMS = {"by_hand": arm_by_hand, "dpzoo": arm_dpzoo, "dpzoo_cold": arm_dpzoo_cold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    parser.add_argument("--names", nargs="*", help="entries (default: every shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    names = args.names or [w.name for w in pretrained.catalogue() if w.source == entries.SHIPPED]
    setups = {}
    for name in names:
        card = dpzoo.model_card(name)
        path = str(pretrained.resolve(name).location)
        setups[name] = (dpzoo.get("model", card.arch).load(), card.config, path)
        reference = arm_by_hand(name, *setups[name]).state_dict()
        for arm in ARMS.values():  # warm up, and check every arm gives the same weights
            state = arm(name, *setups[name]).state_dict()
            assert all(torch.equal(state[k], reference[k]) for k in reference), (name, arm)

    times: dict[str, dict[str, list[float]]] = {n: {a: [] for a in ARMS} for n in names}
    for _ in range(args.rounds):
        for name in names:
            for arm_name, arm in ARMS.items():
                start = time.perf_counter()
                for _ in range(args.loads):
                    arm(name, *setups[name])
                times[name][arm_name].append((time.perf_counter() - start) / args.loads)

    result = {"threads": args.threads, "rounds": args.rounds, "loads": args.loads, "entries": {}}
    for name in names:
        median = {a: statistics.median(t) for a, t in times[name].items()}
        size = pretrained.resolve(name).size
        row = {f"{a}_ms": round(1e3 * s, 3) for a, s in median.items()}
        row.update({f"{a}_ratio": round(median[a] / median["by_hand"], 3) for a in ARMS if a != "by_hand"})
        result["entries"][name] = {"bytes": size, **row}
        print(
            f"{name:<12} {size:>9} B  by hand {row['by_hand_ms']:.3f} ms   dpzoo {row['dpzoo_ms']:.3f} ms "
            f"(x{row['dpzoo_ratio']:.2f})   dpzoo, hashing in full {row['dpzoo_cold_ms']:.3f} ms (x{row['dpzoo_cold_ratio']:.2f})"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
