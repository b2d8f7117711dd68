"""Train a response selector on the synthetic dialogue corpus (``infomax train dialogue``).

:func:`train_dialogue` draws a training and a test corpus
(:func:`infomax.dialogue.corpus.generate_dialogues`, different seeds), trains a
:class:`~infomax.dialogue.model.DialogueModel` with InfoNCE or DEMI for a number
of steps or seconds (the first reached), and measures response selection on the
test corpus next to its references: chance, the Bayes-optimal selector that sees
the whole context and the one that sees only the last utterance (exact expected
values, :func:`infomax.dialogue.exact.bayes_recall`, and the exact-ratio scorer
on the same candidate sets as the model).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from infomax.dialogue.corpus import Dialogues, DialogueSpec, generate_dialogues
from infomax.dialogue.encoders import make_text_encoder
from infomax.dialogue.evaluate import model_scores, oracle_scores, response_selection
from infomax.dialogue.exact import bayes_recall, exact_information
from infomax.dialogue.model import OBJECTIVES, DialogueModel
from infomax.validation import InputError

__all__ = ["DialogueResult", "build_model", "references", "train_dialogue"]


def build_model(
    spec: DialogueSpec,
    objective: str = "infonce",
    encoder: str = "gru",
    dim: int = 64,
    hidden: int = 64,
    temperature: float = 0.1,
    weight_conditional: float = 1.0,
) -> DialogueModel:
    """A :class:`DialogueModel` with two encoders of kind ``encoder`` for ``spec``'s vocabulary."""
    words = spec.vocabulary()
    longest = max(spec.context_length, spec.response_words)
    return DialogueModel(
        make_text_encoder(encoder, words, dim, longest, hidden),
        make_text_encoder(encoder, words, dim, longest, hidden),
        objective=objective,
        dim=dim,
        hidden=2 * dim,
        temperature=temperature,
        weight_conditional=weight_conditional,
    )


def references(data: Dialogues, ks: Sequence[int], seed: int = 0) -> dict[str, Any]:
    """What no trained model can beat, and what the last utterance alone allows.

    Returns:
        ``information`` (:func:`~infomax.dialogue.exact.exact_information`, nats) and,
        for each ``K``, ``bayes`` / ``bayes_subview``: the exact expected recall@1 of the
        Bayes selector from ``x`` / from ``x'``, and ``oracle`` / ``oracle_subview``: the
        exact-ratio scorers' recall@1 on the evaluation's own candidate sets.
    """
    out: dict[str, Any] = {"information": exact_information(data.spec, data.context)}
    measured = {
        "oracle": response_selection(oracle_scores(data, True), ks, seed, tol=1e-9),
        "oracle_subview": response_selection(oracle_scores(data, False), ks, seed, tol=1e-9),
    }
    for k in ks:
        out[str(k)] = {
            "chance": 1.0 / k,
            "bayes": bayes_recall(data.spec, data.context, k, use_context=True),
            "bayes_subview": bayes_recall(data.spec, data.context, k, use_context=False),
            **{name: figures[str(k)] for name, figures in measured.items()},
        }
    return out


@dataclass
class DialogueResult:
    """What :func:`train_dialogue` learned and measured.

    Attributes:
        model: the trained model (eval mode).
        selection: recall@1 of its selection critic on the test corpus, by ``K``
            (see :func:`~infomax.dialogue.evaluate.response_selection`).
        selection_subview: for DEMI, the same for ``psi`` alone (the ``x'`` critic).
        references: :func:`references` on the test corpus.
        history: ``(step, loss, mi)`` every ``log_every`` steps (nats).
        steps: optimiser steps taken.
        seconds: wall-clock time inside training steps (batching, forward, backward,
            update).
        cpu_seconds: the process's CPU time inside those steps (with one thread, the wall
            time of an idle machine, not inflated by other jobs sharing the cores).
        stopped: "steps" or "seconds", the budget that ended training.
        config: the arguments of the run.
    """

    model: DialogueModel
    selection: dict[str, dict[str, float]]
    selection_subview: dict[str, dict[str, float]] | None
    references: dict[str, Any]
    history: list[tuple[int, float, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    stopped: str = "steps"
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The figures and the configuration, JSON-ready."""
        return {
            "config": self.config,
            "selection": self.selection,
            "selection_subview": self.selection_subview,
            "references": self.references,
            "steps": self.steps,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "stopped": self.stopped,
            "final_loss": self.history[-1][1] if self.history else None,
            "history": [list(entry) for entry in self.history],
        }


def train_dialogue(
    spec: DialogueSpec | None = None,
    *,
    objective: str = "infonce",
    encoder: str = "gru",
    n_train: int = 20000,
    n_test: int = 2000,
    steps: int | None = 1000,
    seconds: float | None = None,
    clock: str = "wall",
    batch_size: int = 32,
    lr: float = 2e-3,
    dim: int = 64,
    hidden: int = 64,
    temperature: float = 0.1,
    weight_conditional: float = 1.0,
    subview_turns: int = 1,
    ks: Sequence[int] = (10, 100),
    seed: int = 0,
    data_seed: int = 0,
    log_every: int = 100,
    with_references: bool = True,
) -> DialogueResult:
    """Train a response selector with InfoNCE or DEMI, and evaluate it.

    Args:
        spec: the corpus generator's settings (default :class:`DialogueSpec`).
        objective: "infonce", "demi-bo" or "demi-is" (:data:`OBJECTIVES`).
        encoder: "gru", "transformer" or a Hugging Face model name.
        n_train, n_test: dialogues drawn for training and for the test.
        steps: optimiser (Adam) steps; None: no step budget.
        seconds: training-time budget; None: none. At least one budget is needed.
        clock: what ``seconds`` counts: "wall" (wall-clock time in training steps) or
            "cpu" (the process's CPU time in them: a budget that other jobs on a shared
            machine do not eat into).
        batch_size: dialogues a step; in-batch responses are the negatives.
        lr: Adam's learning rate.
        dim: embedding size; hidden: GRU state / transformer width.
        temperature: ``tau`` of the critics.
        weight_conditional: DEMI's weight of the conditional term.
        subview_turns: utterances ``x'`` keeps (the last ones).
        ks: candidate counts of the evaluation.
        seed: seeds the weights and the batches.
        data_seed: seeds the corpora (training: ``data_seed``, test: ``data_seed + 1``).
        log_every: steps between entries of the history.
        with_references: also compute :func:`references` (exact, a second or two).

    Returns:
        A :class:`DialogueResult`.
    """
    spec = spec or DialogueSpec()
    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    if steps is None and seconds is None:
        raise InputError("give a training budget: steps, seconds or both")
    if (steps is not None and steps < 1) or (seconds is not None and seconds <= 0):
        raise InputError("the steps and seconds budgets must be positive")
    if clock not in ("wall", "cpu"):
        raise InputError(f"clock must be wall or cpu, got {clock!r}")
    if n_train < batch_size or batch_size < 2:
        raise InputError(f"batch size {batch_size} needs 2 <= batch size <= {n_train} dialogues")
    if max(ks) > n_test:
        raise InputError(f"selection among K={max(ks)} needs at least {max(ks)} test dialogues")
    train_data = generate_dialogues(spec, n_train, seed=data_seed)
    test_data = generate_dialogues(spec, n_test, seed=data_seed + 1)
    context = torch.from_numpy(train_data.context)
    subview = torch.from_numpy(train_data.subview(subview_turns))
    response = torch.from_numpy(train_data.response)

    torch.manual_seed(seed)
    model = build_model(spec, objective, encoder, dim, hidden, temperature, weight_conditional)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history: list[tuple[int, float, float]] = []
    spent, cpu_spent, step, stopped = 0.0, 0.0, 0, "steps"
    model.train()
    while steps is None or step < steps:
        if seconds is not None and (spent if clock == "wall" else cpu_spent) >= seconds:
            stopped = "seconds"
            break
        start, cpu_start = time.perf_counter(), time.process_time()
        batch = torch.randint(0, n_train, (batch_size,), generator=generator)
        loss, metrics = model.loss(context[batch], subview[batch], response[batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        spent += time.perf_counter() - start
        cpu_spent += time.process_time() - cpu_start
        step += 1
        if step % log_every == 0:
            history.append((step, loss.item(), float(metrics["mi"])))
    model.eval()
    selection = response_selection(model_scores(model, test_data, subview_turns), ks, seed=0)
    selection_subview = None
    if model.is_demi:
        psi = model_scores(model, test_data, subview_turns, critic="subview")
        selection_subview = response_selection(psi, ks, seed=0)
    config = dict(
        objective=objective, encoder=encoder, n_train=n_train, n_test=n_test, steps=steps,
        seconds=seconds, clock=clock, batch_size=batch_size, lr=lr, dim=dim, hidden=hidden,
        temperature=temperature, weight_conditional=weight_conditional,
        subview_turns=subview_turns, ks=list(ks), seed=seed, data_seed=data_seed,
        spec=spec.to_dict(),
    )  # fmt: skip
    return DialogueResult(
        model=model,
        selection=selection,
        selection_subview=selection_subview,
        references=references(test_data, ks) if with_references else {},
        history=history,
        steps=step,
        seconds=spent,
        cpu_seconds=cpu_spent,
        stopped=stopped,
        config=config,
    )
