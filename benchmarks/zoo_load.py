"""What does loading by name, with every check, cost over loading the file by hand?

For each shipped entry, two ways to get the same model:

* ``by_hand``  - build the module from its known config, then
  ``safetensors.torch.load_file`` + ``load_state_dict`` (no checks at all);
* ``dpzoo``    - ``dpzoo.create_model(name, pretrained=True)``: name lookup and
  index validation, the file read once, its size and full sha256 checked,
  the header validated, the card read and checked (name, arch, the tensors'
  ``weights_sha256``), names, shapes and dtypes compared with the
  architecture, the tensors built over the same bytes. Every load reads
  and hashes the whole file; only parsing the header and hashing the
  tensors against the card are remembered, per file sha256.

Warm: both arms in one process, interleaved over rounds, each round timing
``--loads`` loads; the median round is reported. Cold: the first load in a
fresh process (after importing torch and dpzoo and the model's class, which
both arms need; dpzoo has not read the file yet, so its per-sha256 memo of
the parsed header is empty and the tensors are hashed too), one process per
arm and round, interleaved; the median is reported. The garbage collector is off while timing, in both
arms, as ``timeit`` has it.

dpzoo builds the architecture without drawing its initial parameters (see
``dpzoo.pretrained.lazy_init``), skipping the random initialisation that
``by_hand`` pays for and then overwrites; that is where it earns back its
checks. The last line is one JSON object: seconds per load per arm and
entry, and dpzoo's ratio to ``by_hand``, warm and cold.

    python benchmarks/zoo_load.py [--rounds 7] [--loads 20] [--cold-rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

import dpzoo
from dpzoo.pretrained import entries


def arm_by_hand(name: str, model_cls, config: dict, path: str):
    model = model_cls(model_cls.Config(**config))
    model.load_state_dict(load_file(path))
    return model


def arm_dpzoo(name: str, *_):
    return dpzoo.create_model(name, pretrained=True)


ARMS = {"by_hand": arm_by_hand, "dpzoo": arm_dpzoo}

COLD = """
import gc, sys, time, torch, dpzoo
from safetensors.torch import load_file
torch.set_num_threads({threads})
from dpzoo.pretrained.card import read_card
name, arm = {name!r}, {arm!r}
card = read_card({path!r})  # the header alone: nothing about this file is parsed or checked by dpzoo yet
cls = dpzoo.get("model", card.arch).load()
gc.collect()
gc.disable()  # as timeit does: a cyclic collection of the imports' objects would land in either arm at random
start = time.perf_counter()
if arm == "by_hand":
    model = cls(cls.Config(**card.config)); model.load_state_dict(load_file({path!r}))
else:
    model = dpzoo.create_model(name, pretrained=True)
print(time.perf_counter() - start)
"""


def cold_load(name: str, arm: str, path: str, threads: int) -> float:
    code = COLD.format(name=name, arm=arm, path=path, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--cold-rounds", type=int, default=5, help="fresh processes per arm and entry (0: skip)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    parser.add_argument("--names", nargs="*", help="entries (default: every shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    names = args.names or [w.name for w in entries.catalogue() if w.source == entries.SHIPPED]
    setups = {}
    for name in names:
        card = dpzoo.model_card(name)
        path = str(entries.resolve(name).location)
        setups[name] = (dpzoo.get("model", card.arch).load(), card.config, path)
        reference = arm_by_hand(name, *setups[name]).state_dict()
        for arm in ARMS.values():  # warm up, and check every arm gives the same weights
            state = arm(name, *setups[name]).state_dict()
            assert all(torch.equal(state[k], reference[k]) for k in reference), (name, arm)

    times: dict[str, dict[str, list[float]]] = {n: {a: [] for a in ARMS} for n in names}
    gc.collect()
    gc.disable()  # as timeit does
    for _ in range(args.rounds):
        for name in names:
            for arm_name, arm in ARMS.items():
                start = time.perf_counter()
                for _ in range(args.loads):
                    arm(name, *setups[name])
                times[name][arm_name].append((time.perf_counter() - start) / args.loads)
    gc.enable()
    cold: dict[str, dict[str, list[float]]] = {n: {a: [] for a in ARMS} for n in names}
    for _ in range(args.cold_rounds):
        for name in names:
            for arm_name in ARMS:
                cold[name][arm_name].append(cold_load(name, arm_name, setups[name][2], args.threads))

    result = {"threads": args.threads, "rounds": args.rounds, "loads": args.loads, "cold_rounds": args.cold_rounds, "entries": {}}
    for name in names:
        warm = {a: statistics.median(t) for a, t in times[name].items()}
        row = {f"{a}_ms": round(1e3 * s, 3) for a, s in warm.items()}
        row["dpzoo_ratio"] = round(warm["dpzoo"] / warm["by_hand"], 3)
        line = f"{name:<14} {entries.resolve(name).size:>9} B  warm: by hand {row['by_hand_ms']:.3f} ms, dpzoo {row['dpzoo_ms']:.3f} ms (x{row['dpzoo_ratio']:.2f})"
        if args.cold_rounds:
            first = {a: statistics.median(t) for a, t in cold[name].items()}
            row.update({f"cold_{a}_ms": round(1e3 * s, 3) for a, s in first.items()})
            row["cold_dpzoo_ratio"] = round(first["dpzoo"] / first["by_hand"], 3)
            line += f"   cold: by hand {row['cold_by_hand_ms']:.3f} ms, dpzoo {row['cold_dpzoo_ms']:.3f} ms (x{row['cold_dpzoo_ratio']:.2f})"
        result["entries"][name] = {"bytes": entries.resolve(name).size, **row}
        print(line, flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
