"""Text data sets for the character models: tiny-shakespeare, any local text, the Python standard library."""

from __future__ import annotations

import numpy as np
import pytest

import dpzoo
from dpzoo.plugins.data.errors import DataFormatError, DataUnavailableError
from dpzoo.plugins.data.vocabulary import UNKNOWN, Vocabulary
from dpzoo.tables import to_arrays


def ids(split) -> np.ndarray:
    return to_arrays(split, ["x"])["x"]


def test_a_vocabulary_is_the_sorted_training_characters_with_id_0_for_the_rest():
    v = Vocabulary.of("hello world")
    assert v.chars == " dehlorw" and len(v) == 9
    assert v.encode("held!").tolist() == [4, 3, 5, 2, UNKNOWN]
    assert v.decode(v.encode("low")) == "low"
    with pytest.raises(dpzoo.ConfigError, match=r"outside the model's vocabulary of 8: '!', 'x'"):
        v.encode_strict("x!o")


def test_local_text_is_split_in_order_with_a_vocabulary_from_the_training_split(tmp_path):
    text = "abcab" * 36 + "XYZ" * 4  # 192 characters; X, Y, Z appear only after the training split
    (tmp_path / "t.txt").write_text(text)
    dataset = dpzoo.create("dataset", "text", path=str(tmp_path / "t.txt"))
    splits = dataset.load()
    assert {k: v.num_rows for k, v in splits.items()} == {"train": 172, "validation": 10, "test": 10}
    assert dataset.info() == {"vocabulary": "abc"}
    vocabulary = Vocabulary(dataset.info()["vocabulary"])
    joined = np.concatenate([ids(splits[s]) for s in ("train", "validation", "test")])
    assert vocabulary.decode(joined) == text[:180] + "\N{REPLACEMENT CHARACTER}" * 12  # in order; unknown -> id 0
    assert dataset.sequence() == {
        "batching": "stream",
        "block": 64,
        "column": "x",
        "target": "y",
        "eval_rows": 1,
        "eval_overlap": 0,
    }


def test_an_evaluation_overlap_of_a_whole_block_is_refused_with_the_config(tmp_path):
    with pytest.raises(dpzoo.ConfigError, match=r"eval_overlap \(16\) must be below block \(16\)"):
        dpzoo.create("dataset", "text", path=str(tmp_path / "t.txt"), block=16, eval_overlap=16)


def test_a_folder_of_text_is_read_file_by_file_in_sorted_order(tmp_path):
    for name, body in {"b/2.txt": "second\n" * 20, "a.txt": "first\n" * 20, "skip.md": "ignored"}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(body)
    dataset = dpzoo.create("dataset", "text", path=str(tmp_path))
    splits = dataset.load()
    vocabulary = Vocabulary(dataset.info()["vocabulary"])
    assert vocabulary.decode(ids(splits["train"])).startswith("first\nfirst\n")
    assert "i" not in set(vocabulary.decode(ids(splits["test"]))) - set("second\n")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty: a language model needs text"),
        (b"  \n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
        ("caf\u00e9 latin-1".encode("latin-1") * 20, "is not UTF-8 text"),
    ],
)
def test_an_empty_or_binary_file_is_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=message) as error:
        dpzoo.create("dataset", "text", path=str(path)).load()
    assert str(path) in str(error.value)


def test_a_missing_path_or_an_empty_folder_says_what_to_set(tmp_path):
    with pytest.raises(DataUnavailableError, match="neither a file nor a folder"):
        dpzoo.create("dataset", "text", path=str(tmp_path / "nope.txt")).load()
    with pytest.raises(DataUnavailableError, match="holds no files matching '\\*.txt'; set data.pattern"):
        dpzoo.create("dataset", "text", path=str(tmp_path)).load()
    (tmp_path / "tiny.txt").write_text("ab")
    with pytest.raises(DataFormatError, match="too few for a train, validation, test split of at least 2"):
        dpzoo.create("dataset", "text", path=str(tmp_path / "tiny.txt")).load()


def test_pysrc_splits_by_file_with_a_fixed_seed(tmp_path):
    for k in range(40):
        (tmp_path / f"m{k:02d}.py").write_text(f"def f{k:02d}():\n    return {k}\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("LEFT OUT\n")
    (tmp_path / "latin.py").write_bytes("# caf\u00e9\n".encode("latin-1"))  # not UTF-8: left out
    dataset = dpzoo.create("dataset", "pysrc", root=str(tmp_path))
    splits = dataset.load()
    vocabulary = Vocabulary(dataset.info()["vocabulary"])
    texts = {s: vocabulary.decode(ids(splits[s])) for s in splits}
    files = {s: texts[s].count("def ") for s in texts}
    assert files == {"train": 36, "validation": 2, "test": 2}
    names = {s: set(t.split("def ")[1:]) for s, t in texts.items()}
    assert not names["train"] & names["test"] and not names["train"] & names["validation"]  # no file in two splits
    assert "LEFT" not in texts["train"] + texts["validation"] + texts["test"]
    again = dpzoo.create("dataset", "pysrc", root=str(tmp_path)).load()
    assert all(np.array_equal(ids(again[s]), ids(splits[s])) for s in splits)
    other = dpzoo.create("dataset", "pysrc", root=str(tmp_path), seed=1).load()
    assert not np.array_equal(ids(other["test"]), ids(splits["test"]))


@pytest.mark.slow
def test_pysrc_reads_this_pythons_own_standard_library():
    import sysconfig

    dataset = dpzoo.create("dataset", "pysrc")
    splits = dataset.load()
    assert splits["train"].num_rows > 1_000_000
    assert set("def return import") <= set(dataset.info()["vocabulary"])
    assert sysconfig.get_paths()["stdlib"] in splits["train"].info.description


def test_tiny_shakespeare_is_split_90_5_5_in_order(data_dir, monkeypatch):
    dataset = dpzoo.create("dataset", "shakespeare")
    splits = dataset.load()
    assert {k: v.num_rows for k, v in splits.items()} == {"train": 1_003_854, "validation": 55_770, "test": 55_770}
    text = (data_dir / "tinyshakespeare" / "input.txt").read_text()
    vocabulary = Vocabulary(dataset.info()["vocabulary"])
    assert len(vocabulary.chars) == 65 and vocabulary.chars == "".join(sorted(set(text[:1_003_854])))
    assert vocabulary.decode(ids(splits["train"])[:14]) == text[:14] == "First Citizen:"
    assert vocabulary.decode(ids(splits["test"])) == text[-55_770:]
    assert "tinyshakespeare" in splits["train"].info.description


def test_tiny_shakespeare_says_how_to_provide_it_when_it_is_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("DPZOO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="set data.path to tiny-shakespeare's input.txt"):
        dpzoo.create("dataset", "shakespeare").load()
    with pytest.raises(DataUnavailableError, match="does not exist"):
        dpzoo.create("dataset", "shakespeare", path=str(tmp_path / "missing.txt")).load()
