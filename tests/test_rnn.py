"""Chapter 12's recurrent networks: cells against their equations and PyTorch's kernels, sampling, memory."""

from __future__ import annotations

import json
import re

import pytest
import torch
from torch import nn

import dpzoo
from dpzoo.plugins.data.vocabulary import Vocabulary
from dpzoo.plugins.rnn.recurrence import BookRecurrence, recurrence
from dpzoo.plugins.rnn.sampling import distribution, sample

CELLS = ("elman", "lstm", "gru")
VOCABULARY = "abcdefgh\n "


def pair(cell: str, layers: int = 2, input_size: int = 5, hidden: int = 7):
    """A fused stack and a book stack holding the same float64 weights."""
    torch.manual_seed(0)
    fused = recurrence(cell, "fused", input_size, hidden, layers, 0.0).double()
    book = recurrence(cell, "book", input_size, hidden, layers, 0.0).double()
    book.load_state_dict(fused.state_dict())  # strict: the same names and shapes
    return fused, book


def random_state(cell: str, layers: int, batch: int, hidden: int):
    h = torch.randn(layers, batch, hidden, dtype=torch.float64)
    return (h, torch.randn_like(h)) if cell == "lstm" else h


# -- the cells -------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_book_cell_equals_fused_kernel_on_the_same_weights(cell):
    fused, book = pair(cell)
    x = torch.randn(3, 11, 5, dtype=torch.float64, requires_grad=True)
    state = random_state(cell, 2, 3, 7)
    y_fused, s_fused = fused(x, state)
    y_book, s_book = book(x, state)
    torch.testing.assert_close(y_book, y_fused, rtol=0, atol=1e-12)
    for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (s_book, s_fused))):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # back-propagation through time gives the same gradients, to the input and to every weight
    g_fused = torch.autograd.grad(y_fused.square().sum(), [x, *fused.parameters()])
    g_book = torch.autograd.grad(y_book.square().sum(), [x, *book.parameters()])
    for a, b in zip(g_book, g_fused):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_lstm_cell_is_the_books_update_equations_written_out():
    _, book = pair("lstm", layers=1, input_size=3, hidden=4)
    W_ih, W_hh, b_ih, b_hh = book.layer_weights(0)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    sigma = torch.sigmoid
    H = 4
    rows = {gate: slice(k * H, (k + 1) * H) for k, gate in enumerate("ifgo")}  # PyTorch's gate order
    for t in range(6):
        z = torch.cat([x[:, t], h], dim=1)  # z(t) = (x(t), h(t-1))
        W = {g: torch.cat([W_ih[r], W_hh[r]], dim=1) for g, r in rows.items()}
        b = {g: b_ih[r] + b_hh[r] for g, r in rows.items()}
        f, i = sigma(z @ W["f"].T + b["f"]), sigma(z @ W["i"].T + b["i"])
        g, o = torch.tanh(z @ W["g"].T + b["g"]), sigma(z @ W["o"].T + b["o"])
        c = f * c + g * i
        h = o * torch.tanh(c)
    y, _ = book(x)
    torch.testing.assert_close(y[:, -1], h, rtol=0, atol=1e-12)


def test_gru_books_update_gate_is_one_minus_pytorchs():
    """h(t) = (1 - z) h(t-1) + z n(t) with the book's z equal to 1 - PyTorch's gate z'."""
    fused, book = pair("gru", layers=1, input_size=3, hidden=4)
    W_ih, W_hh, b_ih, b_hh = book.layer_weights(0)
    x_t = torch.randn(2, 3, dtype=torch.float64)
    h_prev = torch.randn(2, 4, dtype=torch.float64)
    z_torch = torch.sigmoid(x_t @ W_ih[4:8].T + b_ih[4:8] + h_prev @ W_hh[4:8].T + b_hh[4:8])
    z_book = 1 - z_torch
    r = torch.sigmoid(x_t @ W_ih[:4].T + b_ih[:4] + h_prev @ W_hh[:4].T + b_hh[:4])
    n = torch.tanh(x_t @ W_ih[8:].T + b_ih[8:] + r * (h_prev @ W_hh[8:].T + b_hh[8:]))
    expected = (1 - z_book) * h_prev + z_book * n
    y, _ = fused(x_t[:, None], h_prev[None])
    torch.testing.assert_close(y[:, 0], expected, rtol=0, atol=1e-12)
    y_book, _ = book(x_t[:, None], h_prev[None])
    torch.testing.assert_close(y_book[:, 0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", CELLS)
def test_a_language_models_state_dict_moves_between_book_and_fused(name):
    torch.manual_seed(0)
    fused = dpzoo.create_model(name, vocabulary=VOCABULARY, layers=2, hidden=8, embedding=4).double().eval()
    book = dpzoo.create_model(name, vocabulary=VOCABULARY, layers=2, hidden=8, embedding=4, impl="book").double().eval()
    assert isinstance(book.rnn, BookRecurrence) and isinstance(fused.rnn, nn.RNNBase)
    book.load_state_dict(fused.state_dict())
    x = torch.randint(0, len(VOCABULARY) + 1, (2, 9))
    logits = fused({"x": x})
    assert logits.shape == (2, 9, len(VOCABULARY) + 1)  # the known characters plus the unknown id
    torch.testing.assert_close(book({"x": x}), logits, rtol=0, atol=1e-12)


def test_dropout_acts_between_layers_in_training_only():
    model = dpzoo.create_model("lstm", vocabulary=VOCABULARY, layers=2, hidden=8, dropout=0.5)
    assert model.rnn.dropout == 0.5
    x = torch.randint(0, 5, (2, 6))
    model.train()
    assert not torch.equal(model.step(x)[0], model.step(x)[0])
    model.eval()
    assert torch.equal(model.step(x)[0], model.step(x)[0])


def test_a_model_without_a_vocabulary_says_where_to_get_one():
    with pytest.raises(dpzoo.ConfigError, match="needs a vocabulary: train it on a text dataset"):
        dpzoo.create_model("lstm")


# -- gradients through time ------------------------------------------------------------
def remember_first(n: int, T: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences whose first symbol (0 or 1) is the label, followed by T - 1 random noise symbols 2..5."""
    bit = torch.randint(0, 2, (n,), generator=generator)
    x = torch.randint(2, 6, (n, T), generator=generator)
    x[:, 0] = bit
    return x, bit


class LastStepClassifier(nn.Module):
    def __init__(self, cell: str, hidden: int = 16):
        super().__init__()
        self.embedding = nn.Embedding(6, 8)
        self.rnn = recurrence(cell, "fused", 8, hidden, 1, 0.0)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        h, _ = self.rnn(self.embedding(x))
        return self.head(h[:, -1])


def train_to_remember(cell: str, steps: int, T: int = 50) -> float:
    torch.manual_seed(0)
    net = LastStepClassifier(cell)
    if cell == "lstm":
        # The book's key idea: a long-term memory needs c(t) = c(t-1). Start with the forget
        # gate open (f = sigma(5) ~ 0.99, rows H..2H in PyTorch's order i, f, g, o) so that it is.
        with torch.no_grad():
            net.rnn.bias_ih_l0[16:32].fill_(5.0)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    data = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = remember_first(32, T, data)
        loss = nn.functional.cross_entropy(net(x), y)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
    x, y = remember_first(1000, T, torch.Generator().manual_seed(99))
    with torch.no_grad():
        return (net(x).argmax(-1) == y).float().mean().item()


@pytest.mark.slow  # two short trainings: about 5 s on a free core
def test_an_lstm_remembers_an_input_over_50_steps_where_an_elman_net_does_not():
    lstm_accuracy = train_to_remember("lstm", steps=60)
    elman_accuracy = train_to_remember("elman", steps=240)  # four times the steps, the same hidden size
    assert lstm_accuracy > 0.95
    assert elman_accuracy < 0.6  # chance is 0.5: the first input's gradient has vanished after 50 tanh steps


# -- sampling ------------------------------------------------------------------------------
def draws(q: torch.Tensor, n: int = 20_000) -> torch.Tensor:
    """The measured frequency of each class in ``n`` draws from ``q``."""
    drawn = torch.multinomial(q, n, replacement=True, generator=torch.Generator().manual_seed(0))
    return torch.bincount(drawn, minlength=len(q)).double() / n


def test_temperature_tends_to_greedy_as_it_falls_and_to_uniform_as_it_grows():
    z = torch.tensor([0.0, 1.0, 3.0, 2.5, -1.0, 0.5])  # index 0 is the unknown id: never drawn
    greedy = draws(distribution(z, temperature=0.02))
    assert greedy[2] == 1.0  # arg max z, every time
    model = draws(distribution(z, temperature=1.0))
    assert model[2] < 0.6 and model[3] > 0.2  # T = 1: the model's own softmax, not greedy
    hot = draws(distribution(z, temperature=1000.0))
    assert hot[0] == 0.0
    assert (hot[1:] - 1 / 5).abs().max() < 0.01  # uniform over the five characters
    # and the measured spread grows with T in between
    entropies = [-(f[f > 0] * f[f > 0].log()).sum() for f in (draws(distribution(z, t)) for t in (0.3, 1.0, 3.0))]
    assert entropies[0] < entropies[1] < entropies[2]


def test_top_k_keeps_only_the_k_largest_logits():
    z = torch.tensor([0.0, 1.0, 3.0, 2.5, -1.0, 0.5])
    measured = draws(distribution(z, temperature=1.0, top_k=2))
    assert set(measured.nonzero().flatten().tolist()) == {2, 3}
    assert (draws(distribution(z, temperature=5.0, top_k=1))[2]) == 1.0


def test_sampling_at_low_temperature_is_greedy_decoding():
    torch.manual_seed(0)
    model = dpzoo.create_model("gru", vocabulary=VOCABULARY, hidden=16).eval()
    text = sample(model, "ab", 12, temperature=1e-3, generator=torch.Generator().manual_seed(1))
    ids = torch.from_numpy(model.vocabulary.encode("\nab"))[None]  # sample() reads a newline before the prime
    greedy = []
    with torch.no_grad():
        logits, state = model.step(ids)
        for _ in range(12):
            z = logits[0, -1].clone()
            z[0] = float("-inf")
            greedy.append(int(z.argmax()))
            logits, state = model.step(torch.tensor([[greedy[-1]]]), state)
    assert text == "ab" + model.vocabulary.decode(greedy)


def test_sampling_is_repeatable_with_a_seed_and_starts_with_the_prime():
    torch.manual_seed(0)
    model = dpzoo.create_model("lstm", vocabulary=VOCABULARY, hidden=16)
    a = sample(model, "bad ", 40, temperature=1.0, generator=torch.Generator().manual_seed(3))
    b = sample(model, "bad ", 40, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert a == b and a.startswith("bad ") and len(a) == 44
    assert set(a) <= set(VOCABULARY)  # the unknown id is never drawn


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prime": "abz!", "length": 5}, r"the prime has characters outside the model's vocabulary of 10: '!', 'z'"),
        ({"prime": "ab", "length": 0}, "length must be at least 1"),
        ({"prime": "ab", "length": 5, "temperature": 0.0}, "temperature must be > 0"),
        ({"prime": "ab", "length": 5, "temperature": -1.0}, "temperature must be > 0"),
        ({"prime": "ab", "length": 5, "top_k": 0}, "top-k must be at least 1"),
        ({"prime": "", "length": 5}, "the prime must hold at least one character"),
    ],
)
def test_bad_sampling_requests_say_what_to_do(kwargs, message):
    model = dpzoo.create_model("lstm", vocabulary=VOCABULARY, hidden=8)
    with pytest.raises(dpzoo.ConfigError, match=message):
        sample(model, **kwargs)


# -- bits per character ----------------------------------------------------------------------
def test_bits_per_char_is_the_mean_base_2_cross_entropy_over_every_character():
    metric = dpzoo.create("metric", "bits_per_char")
    torch.manual_seed(0)
    batches = [(torch.randn(2, 5, 4), torch.randint(0, 4, (2, 5))), (torch.randn(1, 3, 4), torch.randint(0, 4, (1, 3)))]
    batches[1][1][0, 2] = -100  # padding: not a character
    metric.reset()
    for z, y in batches:
        metric.update(z, {"y": y})
    expected, count = 0.0, 0
    for z, y in batches:
        q = torch.softmax(z.double(), -1)
        for b in range(y.shape[0]):
            for t in range(y.shape[1]):
                if y[b, t] >= 0:
                    expected -= torch.log2(q[b, t, y[b, t]]).item()
                    count += 1
    assert count == 12
    assert metric.compute() == pytest.approx(expected / count, rel=1e-6)
    assert not metric.higher_is_better


# -- training, media and the sample command ---------------------------------------------------------
VERSE = (
    "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"
    "Rough winds do shake the darling buds of May,\nAnd summer's lease hath all too short a date;\n"
)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny LSTM trained for two epochs on a verse, with its run directory."""
    root = tmp_path_factory.mktemp("rnn")
    (root / "verse.txt").write_text(VERSE * 4)
    result = dpzoo.train(
        {
            "model": {"name": "lstm", "hidden": 16},
            "data": {"name": "text", "path": str(root / "verse.txt"), "block": 8},
            "trainer": {
                "epochs": 2,
                "batch_size": 4,
                "progress": False,
                "device": "cpu",
                "grad_clip": 1.0,
                "media_seconds": None,  # media every epoch, however short
            },
            "logdir": str(root),
            "run_name": "verse",
        }
    )
    return result


def test_training_logs_bits_per_char_and_samples_at_three_temperatures(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained_run.run_dir), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("validation/bits_per_char")][:2] == [
        trained_run.trainer.step // 2,
        trained_run.trainer.step,
    ]
    for T in ("0.5", "1.0", "1.5"):
        logged = events.Tensors(f"samples/temperature_{T}/text_summary")
        assert len(logged) >= 2  # every epoch (media_every = 1) and at the end
        text = logged[-1].tensor_proto.string_val[0].decode()
        assert (
            len(text.replace("\n    ", "\n").removeprefix("    ")) == 1 + 300
        )  # the prime (a newline) and 300 characters
    assert trained_run.metrics["test/bits_per_char"] > 0
    card = json.loads((trained_run.run_dir / "config.json").read_text())
    assert card["model"]["vocabulary"] == "".join(sorted(set((VERSE * 4)[: int(len(VERSE * 4) * 0.9)])))


def test_dpzoo_sample_reads_a_run_directory_and_repeats_with_a_seed(trained_run, capsys):
    from dpzoo.cli import main
    from dpzoo.plugins.rnn.command import load

    argv = [
        "sample",
        str(trained_run.run_dir),
        "--prime",
        "Thou ",
        "--length",
        "30",
        "--seed",
        "4",
        "--temperature",
        "0.7",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert main(argv) == 0
    assert capsys.readouterr().out == printed
    expected = sample(load(str(trained_run.run_dir)), "Thou ", 30, 0.7, None, torch.Generator().manual_seed(4))
    assert printed == expected + "\n" and printed.startswith("Thou ")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--length", "0"], "length must be at least 1 character, got 0"),
        (["--temperature", "0"], "temperature must be > 0"),
        (["--temperature", "-0.5"], "temperature must be > 0"),
        (["--prime", "Thou\u00e9"], "the prime has characters outside the model's vocabulary"),
    ],
)
def test_dpzoo_sample_refuses_bad_requests_with_exit_code_2(trained_run, capsys, flags, message):
    from dpzoo.cli import main

    assert main(["sample", str(trained_run.run_dir), *flags]) == 2
    assert message in capsys.readouterr().err


def test_dpzoo_sample_on_an_unknown_name_says_where_the_names_are(capsys):
    from dpzoo.cli import main

    assert main(["sample", "lstm.shakespear"]) == 2
    err = capsys.readouterr().err
    assert "no pretrained weights named 'lstm.shakespear'" in err and "dpzoo list --pretrained" in err


# -- the n-gram baseline ----------------------------------------------------------------------------
def test_kneser_ney_gives_a_distribution_over_every_class_for_any_context():
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from ngram import KneserNey
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    vocabulary = Vocabulary.of(VERSE)
    train = vocabulary.encode(VERSE * 3).tolist()
    classes = len(vocabulary)
    for order in (1, 2, 3, 5):
        model = KneserNey(train, order, classes)
        for context in [(), tuple(train[:4]), tuple(train[40:44]), (0, 0, 0, 0), (3, 1, 4, 1)]:
            total = sum(
                model.probability(context[len(context) - (order - 1) :] if order > 1 else (), w) for w in range(classes)
            )
            assert total == pytest.approx(1.0, abs=1e-12), (order, context)
    # a longer context helps on text it has seen: bits per character fall with the order
    scores = [KneserNey(train, n, classes).bits_per_char(vocabulary.encode(VERSE).tolist()) for n in (1, 2, 3)]
    assert scores[0] > scores[1] > scores[2]


# -- the zoo's character models ---------------------------------------------------------------------
# Every shipped card is re-evaluated in full by tests/test_zoo.py (test_every_shipped_entry_reproduces_its_card).
# These tests check what the issue asks of each card (the target, the n-gram beside it) and what sampling gives.
def ngram_on_card(card) -> float:
    """The best n-gram order's test bits per character, from the card's note (benchmarks/ngram.py)."""
    (note,) = [n for n in card.notes if n.startswith("n-gram baseline")]
    return float(re.search(r"test ([0-9.]+) bits/char", note).group(1))


def test_lstm_shakespeare_card_beats_the_best_ngram_on_the_test_split():
    card = dpzoo.model_card("lstm.shakespeare")
    test = card.metric("test/bits_per_char")
    assert test.split == "test" and card.metric("validation/bits_per_char").split == "validation"
    assert test.value < ngram_on_card(card)
    assert card.data.name == "shakespeare" and card.data.examples["test"] == 55_770
    assert card.config["vocabulary"] and card.command.startswith("dpzoo train --model lstm --data shakespeare")
    assert "trainer.grad_clip=1.0" in card.command


def test_lstm_shakespeare_card_meets_the_issue_bar_from_a_one_thread_cpu_build():
    """Issue 11: test bits per character <= 2.2, from a build of at most 30 minutes on one CPU thread."""
    card = dpzoo.model_card("lstm.shakespeare")
    assert card.metric("test/bits_per_char").value <= 2.2
    assert card.environment.device == "cpu" and card.environment.threads == 1 and "--device cpu" in card.command
    (built,) = [n for n in card.notes if n.startswith("built in")]
    assert float(re.match(r"built in ([0-9,]+) s", built).group(1).replace(",", "")) <= 30 * 60


def test_lstm_shakespeare_samples_read_like_a_play(data_dir):
    model = dpzoo.create_model("lstm.shakespeare", pretrained=True)
    text = sample(model, "ROMEO:", 600, temperature=0.8, generator=torch.Generator().manual_seed(0))
    training = (data_dir / "tinyshakespeare" / "input.txt").read_text()[:1_003_854]
    words = re.findall(r"[A-Za-z']+", text)
    known = set(re.findall(r"[A-Za-z']+", training))
    assert sum(w in known for w in words) / len(words) > 0.8  # mostly real words of the plays
    assert re.search(r"\n[A-Z][A-Za-z ]+:\n", text)  # a speaker's name on its own line


def test_lstm_pysrc_samples_read_like_python():
    card = dpzoo.model_card("lstm.pysrc")
    assert card.data.name == "pysrc" and card.metric("test/bits_per_char").split == "test"
    ngram_on_card(card)  # the baseline is on the card (this short build does not reach it: see its notes)
    model = dpzoo.create_model("lstm.pysrc", pretrained=True)
    text = sample(model, "def ", 400, temperature=0.5, generator=torch.Generator().manual_seed(0))
    lines = [line for line in text.split("\n") if line.strip()]
    assert re.match(r"def [A-Za-z_][A-Za-z0-9_]*\(", lines[0])  # a function header
    assert sum(line.startswith("    ") for line in lines[1:]) >= len(lines[1:]) // 2  # an indented body
