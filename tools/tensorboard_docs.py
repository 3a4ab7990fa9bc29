"""Pictures for the README's TensorBoard section, made from real runs' event files (not browser screenshots).

    python tools/tensorboard_docs.py LOGDIR docs/

writes, for the runs under LOGDIR:

* ``tensorboard-confusion-matrix.png``: the confusion-matrix image exactly as
  logged (the bytes TensorBoard's Images dashboard shows), taken from the
  newest run's event file;
* ``tensorboard-loss-curves.png``: ``train/loss`` and ``validation/loss`` of
  every finished run, drawn with matplotlib from the event files (what the custom
  scalars chart "training and validation loss" plots);

and prints the HParams table (every finished run's columns and final metrics) as
Markdown, read from the hparams plugin data in the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


def load(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def finished(acc: EventAccumulator) -> bool:
    """A run that logged its HParams summary, which the trainer writes when the run ends."""
    try:
        return "_hparams_/experiment" in acc.PluginTagToContent("hparams")
    except KeyError:  # no hparams plugin data at all: the run has not finished
        return False


def shown(value) -> str:
    """An HParams value (a protobuf Value) as the dashboard writes it."""
    kind = value.WhichOneof("kind")
    if kind == "bool_value":
        return str(value.bool_value).lower()
    return f"{value.number_value:g}" if kind == "number_value" else value.string_value


def hparams_table(runs: dict[str, EventAccumulator]) -> str:
    rows = []
    for name, acc in runs.items():
        content = acc.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
        values = {k: shown(v) for k, v in start.session_start_info.hparams.items()}
        metrics = {m.name.tag: f"{acc.Scalars(m.name.tag)[-1].value:.4f}" for m in experiment.experiment.metric_infos}
        rows.append((name, values, metrics))
    columns = sorted({k for _, v, _ in rows for k in v})
    metric_columns = list(dict.fromkeys(k for _, _, m in rows for k in m))
    lines = [
        "| run | " + " | ".join(columns + metric_columns) + " |",
        "|---" * (1 + len(columns) + len(metric_columns)) + "|",
    ]
    for name, values, metrics in rows:
        cells = [values.get(c, "") for c in columns] + [metrics.get(c, "") for c in metric_columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def loss_curves(runs: dict[str, EventAccumulator], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    for i, (name, acc) in enumerate(runs.items()):
        for tag, style in (("train/loss", "-"), ("validation/loss", "o--")):
            events = acc.Scalars(tag)
            axes.plot(
                [e.step for e in events],
                [e.value for e in events],
                style,
                color=f"C{i}",
                label=f"{name} {tag}",
                markersize=4,
            )
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (nats)")
    axes.set_yscale("log")
    axes.set_title("train/loss and validation/loss\n(drawn with matplotlib from the event files, not a screenshot)")
    axes.legend(fontsize=8)
    figure.savefig(path)


def main(logdir: str, out: str) -> None:
    root, docs = Path(logdir), Path(out)
    loaded = {p.name: load(p) for p in sorted(root.iterdir()) if p.is_dir() and list(p.glob("events.out.tfevents.*"))}
    runs = {name: acc for name, acc in loaded.items() if finished(acc)}
    with_image = [acc for acc in runs.values() if "media/confusion_matrix" in acc.Tags()["images"]]
    image = with_image[-1].Images("media/confusion_matrix")[-1]
    (docs / "tensorboard-confusion-matrix.png").write_bytes(image.encoded_image_string)
    loss_curves(runs, docs / "tensorboard-loss-curves.png")
    print(hparams_table(runs))


if __name__ == "__main__":
    main(*sys.argv[1:3])
