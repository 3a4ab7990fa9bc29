"""Sequence batching in the trainer (core/trainer/sequences.py): windows, streams, carried state, resume, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import dpzoo
from dpzoo.plugins.rnn.language_model import LSTM
from dpzoo.trainer import InMemorySplits, TrainConfig, Trainer
from dpzoo.trainer.sequences import PAD, SequenceSplits

QUIET = {"progress": False, "device": "cpu"}
VERSE = (
    "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"
    "Rough winds do shake the darling buds of May,\nAnd summer's lease hath all too short a date;\n"
)


def stream_splits(
    n: int = 1001, batching: str = "stream", block: int = 4, eval_rows: int = 1, eval_overlap: int = 0
) -> SequenceSplits:
    s = torch.arange(n)
    spec = {"batching": batching, "block": block, "eval_rows": eval_rows, "eval_overlap": eval_overlap}
    return SequenceSplits({"train": {"x": s}, "validation": {"x": s[:50]}}, spec)


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "verse.txt"
    path.write_text(VERSE * 4)
    return path


# -- how training batches are cut -----------------------------------------------------------
def test_stream_batches_continue_each_row_from_one_step_to_the_next():
    data = stream_splits(n=1001, block=4)  # 1000 predicted positions
    order = data.epoch_order(seed=0, epoch=0, batch_size=5)
    assert data.steps_per_epoch(5) == len(order) == (1000 // 5) // 4  # rows of 200, 50 blocks each
    batches = [data.gather("train", starts) for starts in order]
    for previous, current in zip(batches, batches[1:]):
        assert torch.equal(current["x"][:, 0], previous["x"][:, -1] + 1)  # each row picks up where it stopped
    rows = torch.cat([b["x"] for b in batches], dim=1)
    assert torch.equal(rows, torch.arange(1000).view(5, 200))  # every row contiguous, rows disjoint
    assert torch.equal(batches[0]["y"], batches[0]["x"] + 1)  # targets: the next position
    assert torch.equal(data.epoch_order(0, 3, 5)[7], order[7])  # the same cut every epoch


def test_windows_are_fresh_random_draws_fixed_by_seed_and_epoch():
    data = stream_splits(n=1001, batching="windows", block=4)
    order = data.epoch_order(seed=0, epoch=0, batch_size=5)
    assert len(order) == 1000 // (5 * 4)
    assert all(torch.equal(a, b) for a, b in zip(order, data.epoch_order(0, 0, 5)))
    assert not torch.equal(torch.stack(order), torch.stack(data.epoch_order(0, 1, 5)))
    assert not torch.equal(order[0], order[1])
    starts = torch.stack(order)
    assert starts.min() >= 0 and starts.max() <= 1000 - 4  # the last target of a window is still in the stream
    batch = data.gather("train", order[0])
    assert torch.equal(batch["x"], order[0][:, None] + torch.arange(4)) and torch.equal(batch["y"], batch["x"] + 1)


@pytest.mark.parametrize("batching", ["stream", "windows"])
def test_each_process_takes_its_own_rows_or_windows(batching):
    data = stream_splits(n=4001, batching=batching, block=4)
    single = data.epoch_order(0, 0, batch_size=6)
    shares = [data.epoch_order(0, 0, batch_size=3, rank=r, world_size=2) for r in range(2)]
    assert len(shares[0]) == len(shares[1]) == len(single) == data.steps_per_epoch(3, world_size=2)
    for k in range(len(single)):  # two processes of 3 rows draw exactly what one process of 6 draws
        assert torch.equal(torch.cat([shares[0][k], shares[1][k]]), single[k])


def test_a_stream_too_short_for_one_batch_says_what_to_lower():
    with pytest.raises(dpzoo.ConfigError, match="lower trainer.batch_size or data.block"):
        stream_splits(n=40, block=8).steps_per_epoch(8)


# -- evaluation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [1, 3, 7])
def test_evaluation_predicts_every_position_exactly_once(rows):
    data = stream_splits(n=1001, block=16, eval_rows=rows)
    batches = list(data.batches("validation"))
    x = torch.cat([b["x"] for b in batches], dim=1)
    y = torch.cat([b["y"] for b in batches], dim=1)
    assert x.shape[0] == rows
    real = y != PAD
    assert sorted(y[real].tolist()) == list(range(1, 50))  # positions 1..49 of the 50, each once
    assert torch.equal(y[real], x[real] + 1)
    assert not real.flatten()[: real.sum()].logical_not().any()  # padding only at the very end


@pytest.mark.parametrize(("rows", "overlap"), [(1, 12), (3, 4), (2, 15)])
def test_overlapping_evaluation_windows_score_every_position_once_each_from_its_context(rows, overlap):
    data = stream_splits(n=1001, block=16, eval_rows=rows, eval_overlap=overlap)
    batches = list(data.batches("validation"))
    scored = []
    for k, batch in enumerate(batches):
        assert batch["x"].shape[1] <= 16
        real = batch["y"] != PAD
        assert torch.equal(batch["y"][real], batch["x"][real] + 1)
        if k:  # after a row's first window, no position is scored before `overlap` positions of context
            assert not real[:, :overlap].any()
            assert real[:, overlap:].any()  # and every window scores something
        scored += batch["y"][real].tolist()
    assert sorted(scored) == list(range(1, 50))  # positions 1..49 of the 50, each once
    row = torch.cat([batches[0]["x"][0]] + [b["x"][0, overlap:] for b in batches[1:]])
    assert torch.equal(row[row != 0], torch.arange(1, len(row[row != 0]) + 1))  # windows advance by block - overlap


def test_an_evaluation_overlap_that_leaves_nothing_to_score_says_what_to_set():
    with pytest.raises(dpzoo.ConfigError, match="set data.eval_overlap below 16"):
        stream_splits(block=16, eval_overlap=16)


def test_a_model_that_carries_state_refuses_overlapping_evaluation_windows():
    model = LSTM(vocabulary="abc", hidden=4)
    data = stream_splits(n=200, block=8, eval_overlap=4)
    with pytest.raises(dpzoo.ConfigError, match="LSTM carries its state.*set data.eval_overlap=0"):
        dpzoo.trainer.evaluate(model, data, "validation")
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(dpzoo.ConfigError, match="LSTM carries its state.*set data.eval_overlap=0"):
        fit(data, model, max_steps=5)  # refused before training, not at the first evaluation
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_run_of_a_stateful_model_with_overlapping_evaluation_is_refused_before_its_directory_exists(corpus, tmp_path):
    config = {
        "model": {"name": "lstm", "hidden": 4},
        "data": {"name": "text", "path": str(corpus), "block": 8, "eval_overlap": 4},
        "trainer": {**QUIET, "max_steps": 2},
        "logdir": str(tmp_path / "runs"),
    }
    with pytest.raises(dpzoo.ConfigError, match="LSTM carries its state.*set data.eval_overlap=0"):
        dpzoo.train(config)
    assert not (tmp_path / "runs").exists()  # nothing for `dpzoo runs` to list as interrupted


@pytest.mark.parametrize("block", [5, 7])
def test_bits_per_char_over_a_split_is_one_unbroken_pass_whatever_the_block(corpus, block):
    dataset = dpzoo.create("dataset", "text", path=str(corpus), block=block)
    dataset_dict = dataset.load()
    data = InMemorySplits.from_dataset_dict(
        dataset_dict, dataset.columns, torch.device("cpu"), sequence=dataset.sequence()
    )
    torch.manual_seed(0)
    model = dpzoo.create_model("lstm", vocabulary=dataset.info()["vocabulary"], hidden=12).double().eval()
    metric = dpzoo.create("metric", "bits_per_char")
    values = dpzoo.trainer.evaluate(model, data, "validation", metrics={"bits_per_char": metric})
    s = data.stream("validation")
    with torch.no_grad():  # the whole split in one forward pass, in float64
        logits, _ = model.step(s[None, :-1])
    expected = torch.nn.functional.cross_entropy(logits[0], s[1:]).item() / torch.log(torch.tensor(2.0)).item()
    assert values["validation/bits_per_char"] == pytest.approx(expected, rel=1e-6)  # the trainer sums in float32


# -- carried state ------------------------------------------------------------------------------------
class SpyLSTM(LSTM):
    """Records, at each forward, what state it was handed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[bool, int, object]] = []  # (training, id of the state handed in, its values)
        self.ends: list[object] = []

    def forward(self, batch):
        carry = self.carry
        self.seen.append((self.training, carry))
        logits = super().forward(batch)
        self.ends.append(self.carry)
        return logits


def fit(data, model, **trainer) -> Trainer:
    trainer_ = Trainer(TrainConfig(**QUIET, **trainer))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    trainer_.fit(model, data, optimisers={"model": optimiser}, loss=dpzoo.create("loss", "cross_entropy"))
    return trainer_


def text_data(corpus: Path, **options):
    dataset = dpzoo.create("dataset", "text", path=str(corpus), **options)
    dataset_dict = dataset.load()
    data = InMemorySplits.from_dataset_dict(
        dataset_dict, dataset.columns, torch.device("cpu"), sequence=dataset.sequence()
    )
    return data, dataset.info()["vocabulary"]


def test_a_stream_carries_the_state_across_exactly_the_batches_of_an_epoch(corpus):
    data, vocabulary = text_data(corpus, block=8)
    steps = data.steps_per_epoch(4)
    torch.manual_seed(0)
    model = SpyLSTM(vocabulary=vocabulary, hidden=8)
    fit(data, model, epochs=2, batch_size=4, validate_every=1, test=False)
    training = [(i, carry) for i, (train, carry) in enumerate(model.seen) if train]
    assert len(training) == 2 * steps
    evaluation_starts = [i for i, (train, carry) in enumerate(model.seen) if not train and carry is None]
    assert len(evaluation_starts) == 2  # each validation starts from no state
    for k, (_, carry) in enumerate(training):
        if k % steps == 0:
            assert carry is None  # reset at the start of each epoch
        else:
            previous_end = model.ends[training[k - 1][0]]
            for a, b in zip(carry, previous_end):  # (h, c) that the previous training batch ended in...
                assert torch.equal(a, b)
                assert not a.requires_grad  # ...detached: back-propagation stops at the batch boundary
    assert model.carry is not None and model.carry[0].shape[1] == 4  # validation did not replace the training state


def test_windows_and_independent_batches_start_every_batch_from_no_state(corpus):
    data, vocabulary = text_data(corpus, block=8, batching="windows")
    torch.manual_seed(0)
    model = SpyLSTM(vocabulary=vocabulary, hidden=8)
    fit(data, model, max_steps=6, batch_size=4, validate_every=0, test=False)
    assert [carry for train, carry in model.seen if train] == [None] * 6


def test_killed_and_resumed_stateful_run_is_bit_exact(tmp_path, corpus):
    config = {
        "model": {"name": "lstm", "hidden": 16, "dropout": 0.1, "layers": 2},
        "data": {"name": "text", "path": str(corpus), "block": 8},
        "trainer": {**QUIET, "epochs": 2, "batch_size": 4, "checkpoint_every": 5, "grad_clip": 1.0},
        "logdir": str(tmp_path),
    }
    whole = dpzoo.train({**config, "run_name": "whole"})
    steps_per_epoch = whole.trainer.step // 2
    assert steps_per_epoch > 7  # the kill below lands mid-epoch, with a state being carried

    def kill(trainer):
        if trainer.step == 7:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        dpzoo.train({**config, "run_name": "killed"}, callbacks=[kill])
    record = json.loads((tmp_path / "killed" / "checkpoints" / "last.json").read_text())
    state = dict(record["state"]["__dict__"])
    assert record["step"] == 5 and state["carry"] is not None  # the carried (h, c) is in the checkpoint
    resumed = dpzoo.train({"logdir": str(tmp_path)}, resume=tmp_path / "killed")
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.metrics["test/bits_per_char"] == whole.metrics["test/bits_per_char"]


@pytest.mark.slow  # three processes start torch: about 20 s
@pytest.mark.skipif(not torch.distributed.is_available(), reason="this PyTorch build has no torch.distributed")
def test_two_processes_each_carry_their_own_rows_and_match_one_process(tmp_path, corpus):
    from conftest import run_cli, train_under_torchrun

    steps = [
        "--model",
        "lstm",
        "--data",
        "text",
        "--set",
        f"data.path={corpus}",
        "--set",
        "data.block=8",
        "--set",
        "model.hidden=16",
        "--max-steps",
        "6",
        "--set",
        "trainer.validate_every=0",
        "--lr",
        "0.01",
        "--logdir",
        str(tmp_path),
    ]
    single = run_cli("train", *steps, "--batch-size", "4", "--run-name", "single")
    assert single.returncode == 0, single.stderr
    ddp = train_under_torchrun(*steps, "--batch-size", "2", "--run-name", "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = load_file(tmp_path / "single/model.safetensors"), load_file(tmp_path / "ddp/model.safetensors")
    for name in a:  # rank r streamed rows 2r, 2r+1 of the same four, carrying its own state: the same steps
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6)
