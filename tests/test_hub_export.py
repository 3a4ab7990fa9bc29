"""``dpzoo zoo export`` and ``dpzoo info NAME --markdown``: a zoo entry as a Hugging Face Hub folder."""

from __future__ import annotations

import pytest
import yaml
from safetensors.torch import load_file
from zoo_helpers import INDEX, ZOO, same_weights

import dpzoo
from dpzoo.cli import main
from dpzoo.pretrained import hubcard

NAME = "mlp.digits"


def front_matter(text: str) -> dict:
    """The YAML between the opening '---' lines, parsed by PyYAML itself."""
    assert text.startswith("---\n")
    head, closing, _ = text[4:].partition("\n---\n")
    assert closing, "front matter not closed"
    return yaml.safe_load(head)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("hub") / "mlp-digits"
    assert main(["zoo", "export", NAME, str(out)]) == 0
    return out


def test_zoo_export_writes_a_readme_whose_front_matter_is_the_hubs_and_whose_metrics_are_the_cards(exported):
    meta = front_matter((exported / "README.md").read_text())
    card = dpzoo.model_card(NAME)
    assert meta["library_name"] == "dpzoo" and meta["license"] == "mit" and meta["datasets"] == ["digits"]
    assert {"dpzoo", "mlp", "digits"} <= set(meta["tags"])
    [model] = meta["model-index"]
    assert model["name"] == NAME
    shown = {m["name"]: (m["value"], r["dataset"]["split"], m["type"]) for r in model["results"] for m in r["metrics"]}
    assert shown == {m.name: (m.value, m.split, m.name.rpartition("/")[2]) for m in card.metrics}
    assert all(r["task"]["type"] == "image-classification" for r in model["results"])


def test_the_exported_weights_are_the_entrys_bytes_and_load_from_the_folder(exported):
    path = exported / f"{NAME}.safetensors"
    assert path.read_bytes() == (ZOO / INDEX[NAME]["file"]).read_bytes()
    model = dpzoo.create_model(NAME, pretrained=path)
    assert same_weights(model, load_file(str(ZOO / INDEX[NAME]["file"])))


def test_info_markdown_prints_the_exported_readme(exported, capsys):
    assert main(["info", NAME, "--markdown"]) == 0
    assert capsys.readouterr().out == (exported / "README.md").read_text()


@pytest.mark.parametrize("flag", ["DPZOO_OFFLINE", "HF_HUB_OFFLINE"])
def test_push_while_offline_is_a_clear_error_that_opens_no_connection(tmp_path, monkeypatch, capsys, flag):
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise AssertionError("push tried to reach the Hub while offline")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_network)
    monkeypatch.setenv(flag, "1")
    assert main(["zoo", "export", NAME, str(tmp_path / "out"), "--push", "someone/digits"]) == 2
    err = capsys.readouterr().err
    assert f"cannot push to someone/digits: {flag} is set" in err and str(tmp_path / "out") in err
    assert (tmp_path / "out" / "README.md").is_file()  # the folder is written; only the upload is refused


def test_a_licence_the_hub_does_not_know_is_other_with_its_name():
    card = dpzoo.model_card(NAME).model_copy(update={"licence": "Research only, no redistribution"})
    meta = hubcard.front_matter(card)
    assert meta["license"] == "other" and meta["license_name"] == "Research only, no redistribution"


def test_the_hub_readme_names_cpu_kernels_only_for_cpu_trained_entries():
    cpu, gpu = dpzoo.model_card(NAME), dpzoo.model_card("dspn.mnistsets")
    assert (cpu.environment.device, gpu.environment.device) == ("cpu", "cuda")
    cpu_text = hubcard.markdown(cpu, f"{NAME}.safetensors", "0" * 64, 1)
    gpu_text = hubcard.markdown(gpu, "dspn.mnistsets.safetensors", "0" * 64, 1)
    assert (
        f"on cpu, {cpu.environment.cpu_capability} kernels, 1 CPU thread(s) (a bitwise rebuild needs the same)"
        in cpu_text
    )
    assert "on cuda, 1 CPU thread(s) beside it (cuda kernels need not repeat a run bit for bit)" in gpu_text
    assert "kernels, 1 CPU thread(s)" not in gpu_text and "bitwise" not in gpu_text
