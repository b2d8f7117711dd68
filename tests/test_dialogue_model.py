"""Dialogue critics and objectives against loop references; encoders; training; the CLI."""

from __future__ import annotations

import inspect
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from infomax.cli import main
from infomax.dialogue import encoders as encoders_module
from infomax.dialogue.corpus import DialogueSpec, generate_dialogues
from infomax.dialogue.encoders import GRUEncoder, TransformerEncoder, make_text_encoder
from infomax.dialogue.evaluate import model_scores
from infomax.dialogue.train import build_model, train_dialogue
from infomax.methods.demi import demi_loss
from infomax.validation import InputError

SPEC = DialogueSpec()


def _batch(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    data = generate_dialogues(SPEC, n, seed=seed)
    return tuple(torch.from_numpy(a) for a in (data.context, data.subview(1), data.response))


def _cosine_loop(a: np.ndarray, b: np.ndarray, tau: float) -> np.ndarray:
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = a[i] @ b[j] / (np.linalg.norm(a[i]) * np.linalg.norm(b[j])) / tau
    return out


def _infonce_loop(scores: np.ndarray) -> float:
    k = len(scores)
    rows = [scores[i, i] - math.log(sum(math.exp(v) for v in scores[i])) for i in range(k)]
    return sum(rows) / k + math.log(k)


def _is_loop(phi: np.ndarray, psi: np.ndarray) -> float:
    """I_IS: negatives re-weighted by softmax of psi over the other responses."""
    k, values = len(phi), []
    for i in range(k):
        others = [j for j in range(k) if j != i]
        total = sum(math.exp(psi[i, j]) for j in others)
        negatives = sum(math.exp(psi[i, j]) / total * math.exp(phi[i, j]) for j in others)
        values.append(phi[i, i] - math.log((math.exp(phi[i, i]) + (k - 1) * negatives) / k))
    return sum(values) / k


def _embeddings(model, context, subview, response) -> dict[str, np.ndarray]:
    with torch.no_grad():
        h_x = model.context_encoder(context)
        h_sub = model.context_encoder(subview)
        out = {
            "x": h_x.double().numpy(),
            "sub": h_sub.double().numpy(),
            "y": model.response_encoder(response).double().numpy(),
        }
        if model.combine is not None:
            out["g"] = model.combine(torch.cat([h_sub, h_x], dim=1)).double().numpy()
    return out


@pytest.mark.parametrize("objective", ["infonce", "demi-bo", "demi-is"])
def test_each_loss_matches_a_loop_reference(objective: str) -> None:
    torch.manual_seed(0)
    model = build_model(SPEC, objective, dim=8, hidden=16, temperature=0.3)
    context, subview, response = _batch()
    loss, metrics = model.loss(context, subview, response)
    loss = loss.detach()
    h = _embeddings(model, context, subview, response)
    tol = dict(rel=1e-5, abs=1e-5)  # float32 against float64
    if objective == "infonce":
        expected = _infonce_loop(_cosine_loop(h["x"], h["y"], 0.3))
        assert float(loss) == pytest.approx(-expected, **tol)
        assert float(metrics["mi"]) == pytest.approx(expected, **tol)
        selection = _cosine_loop(h["x"], h["y"], 0.3)
    else:
        psi = _cosine_loop(h["sub"], h["y"], 0.3)
        phi = _cosine_loop(h["g"], h["y"], 0.3)
        mi_subview = _infonce_loop(psi)
        if objective == "demi-bo":
            boosted = _infonce_loop(psi + phi)
            expected_loss, cmi = -(mi_subview + boosted), boosted - mi_subview
        else:
            cmi = _is_loop(phi, psi)
            expected_loss = -(mi_subview + cmi)
        assert float(loss) == pytest.approx(expected_loss, **tol)
        assert float(metrics["mi_subview"]) == pytest.approx(mi_subview, **tol)
        assert float(metrics["cmi"]) == pytest.approx(cmi, **tol)
        assert float(metrics["mi"]) == pytest.approx(mi_subview + cmi, **tol)
        selection = psi + phi
    with torch.no_grad():
        np.testing.assert_allclose(model(context, subview, response).numpy(), selection, atol=1e-5)


def test_loss_gradients_reach_both_encoders_and_g() -> None:
    torch.manual_seed(0)
    model = build_model(SPEC, "demi-is", dim=8, hidden=16)
    loss, _ = model.loss(*_batch(8))
    loss.backward()
    for part in (model.context_encoder, model.response_encoder, model.combine):
        assert any(float(p.grad.abs().sum()) > 0 for p in part.parameters())


def test_demi_loss_refuses_an_unknown_conditional() -> None:
    with pytest.raises(InputError, match="unknown conditional estimator 'var'"):
        demi_loss(torch.zeros(3, 3), torch.zeros(3, 3), "var")


@pytest.mark.parametrize("objective", ["infonce", "demi-bo"])
def test_chunked_test_scores_equal_one_forward_pass(objective: str) -> None:
    torch.manual_seed(1)
    model = build_model(SPEC, objective, dim=8, hidden=16)
    data = generate_dialogues(SPEC, 37, seed=5)
    scores = model_scores(model, data, chunk=10)
    with torch.no_grad():
        full = model(*(torch.from_numpy(a) for a in (data.context, data.subview(1), data.response)))
    np.testing.assert_allclose(scores, full.double().numpy(), atol=1e-5)
    if objective == "demi-bo":
        h = _embeddings(model, *(torch.from_numpy(a) for a in (data.context, data.subview(1),
                                                              data.response)))  # fmt: skip
        psi = model_scores(model, data, critic="subview", chunk=10)
        np.testing.assert_allclose(psi, _cosine_loop(h["sub"], h["y"], 0.1), atol=1e-4)
    else:
        with pytest.raises(InputError, match="unknown critic"):
            model_scores(model, data, critic="subview")


def test_builtin_encoders_map_tokens_to_vectors() -> None:
    words = SPEC.vocabulary()
    tokens = torch.from_numpy(generate_dialogues(SPEC, 5).context)
    for name, kind in (("gru", GRUEncoder), ("transformer", TransformerEncoder)):
        torch.manual_seed(0)
        encoder = make_text_encoder(name, words, 12, SPEC.context_length, hidden=16)
        assert isinstance(encoder, kind)
        out = encoder(tokens)
        assert out.shape == (5, 12) and torch.isfinite(out).all()
        # Rows are encoded independently: one row alone gives its row of the batch.
        torch.testing.assert_close(encoder(tokens[2:3]), out[2:3], atol=1e-5, rtol=1e-5)
    with pytest.raises(InputError, match="at most 28 tokens"):
        encoder(torch.zeros(1, 29, dtype=torch.long))


def test_a_hugging_face_name_without_transformers_names_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(encoders_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError) as caught:
        make_text_encoder("gpt2", SPEC.vocabulary(), 8, 28)
    message = str(caught.value)
    assert "'gpt2'" in message and "pip install transformers" in message
    assert "\n" not in message


def test_a_hugging_face_name_routes_to_that_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``transformers`` records the name; no download, no real model."""
    loaded: list[str] = []

    class Tokenizer:
        pad_token = None
        eos_token = "<eos>"

        def __call__(self, texts, return_tensors, padding):
            lengths = [len(text.split()) for text in texts]
            width = max(lengths)
            mask = torch.tensor([[1] * n + [0] * (width - n) for n in lengths])
            return {"input_ids": mask * 3, "attention_mask": mask}

    class Model(torch.nn.Module):
        config = types.SimpleNamespace(hidden_size=5)

        def forward(self, input_ids, attention_mask):
            hidden = input_ids[..., None].float().expand(-1, -1, 5)
            return types.SimpleNamespace(last_hidden_state=hidden)

    def pretrained(kind):
        def load(name):
            loaded.append(f"{kind}:{name}")
            return Tokenizer() if kind == "tokenizer" else Model()

        return types.SimpleNamespace(from_pretrained=load)

    fake = types.ModuleType("transformers")
    fake.AutoTokenizer = pretrained("tokenizer")
    fake.AutoModel = pretrained("model")
    monkeypatch.setitem(sys.modules, "transformers", fake)
    monkeypatch.setattr(encoders_module.importlib.util, "find_spec", lambda name: object())
    encoder = make_text_encoder("org/tiny-model", SPEC.vocabulary(), 4, 28)
    assert loaded == ["tokenizer:org/tiny-model", "model:org/tiny-model"]
    assert encoder.tokenizer.pad_token == "<eos>"
    tokens = torch.tensor([[0, 1, 33], [40, 66, 128]])
    assert encoder.texts(tokens) == ["<sep> f0 topic0_0", "topic1_3 ask0_1 ans15_1"]
    out = encoder(tokens)
    # Every real token's hidden state is 3, so the mean-pooled input to the linear map is 3.
    expected = encoder.out(torch.full((2, 5), 3.0))
    torch.testing.assert_close(out, expected)


def test_training_learns_and_is_reproducible() -> None:
    kwargs = dict(n_train=3000, n_test=400, ks=(10,), log_every=50, seed=2)
    result = train_dialogue(objective="demi-is", steps=200, **kwargs)
    recall, stderr = result.selection["10"]["recall"], result.selection["10"]["stderr"]
    assert recall > 0.1 + 6 * stderr  # far above chance
    assert recall <= result.references["10"]["bayes"] + 4 * stderr  # not above Bayes
    assert result.selection_subview is not None and result.steps == 200
    assert result.stopped == "steps" and [h[0] for h in result.history] == [50, 100, 150, 200]
    first, second = (
        train_dialogue(objective="demi-bo", steps=15, with_references=False, **kwargs)
        for _ in range(2)
    )
    assert first.selection == second.selection and first.history == second.history
    timed = train_dialogue(
        objective="infonce", steps=None, seconds=0.05, with_references=False, **kwargs
    )
    assert timed.stopped == "seconds" and timed.steps >= 1 and timed.seconds >= 0.05
    cpu = train_dialogue(
        objective="infonce", steps=None, seconds=0.05, clock="cpu", with_references=False, **kwargs
    )
    assert cpu.stopped == "seconds" and cpu.cpu_seconds >= 0.05 and cpu.seconds > 0
    assert timed.selection_subview is None


def test_training_refuses_bad_budgets() -> None:
    with pytest.raises(InputError, match="training budget"):
        train_dialogue(steps=None, seconds=None)
    with pytest.raises(InputError, match="unknown objective"):
        train_dialogue(objective="nce")
    with pytest.raises(InputError, match="clock must be wall or cpu"):
        train_dialogue(seconds=1.0, clock="gpu")
    with pytest.raises(InputError, match="K=100"):
        train_dialogue(n_test=50, steps=1)


def test_train_dialogue_through_main_matches_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = [
        "train", "dialogue", "--objective", "demi-bo", "--steps", "20", "--dialogues", "500",
        "--test", "120", "--k", "10,50", "--topics", "4", "--seed", "3", "--out", str(out),
        "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "dialogue.json").read_text())
    assert (out / "model.pt").is_file()
    reference = train_dialogue(
        DialogueSpec(topics=4), objective="demi-bo", steps=20, n_train=500, n_test=120,
        ks=(10, 50), seed=3,
    ).to_dict()  # fmt: skip
    assert printed["selection"] == reference["selection"]  # same arithmetic, same process
    assert printed["references"]["10"]["bayes"] == pytest.approx(
        reference["references"]["10"]["bayes"], abs=1e-12
    )
    assert printed["config"]["spec"]["topics"] == 4
    # The plain summary names the references.
    assert main(argv[:-1]) == 0
    text = capsys.readouterr().out
    assert "Bayes" in text and "K=50" in text and "I(x;y|x')" in text


def test_train_dialogue_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "dialogue", "--k", "1"]) == 2
    assert (
        capsys.readouterr().err.strip() == "infomax: error: --k values must be at least 2, got '1'"
    )
    assert main(["train", "dialogue", "--objective", "nce"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["train", "dialogue", "--dialogues", "0"]) == 2
    assert capsys.readouterr().err.strip() == "infomax: error: --dialogues must be positive"
    assert main(["train", "--help"]) == 0
    assert "  dialogue " in capsys.readouterr().out


def test_train_dialogue_help_shows_the_library_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["train", "dialogue", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())
    defaults = inspect.signature(train_dialogue).parameters
    for flag, name in (
        ("--dialogues N", "n_train"),
        ("--lr LR", "lr"),
        ("--encoder ENCODER", "encoder"),
    ):
        shown = f"(default: {defaults[name].default})"
        assert shown in text.split(flag, 1)[1].split(" --", 1)[0], (flag, shown)
