"""Token-sequence encoders for dialogue: a GRU, a small transformer, or a Hugging Face model.

Every encoder maps ``(B, L)`` int64 token ids to ``(B, D)`` float embeddings.
:func:`make_text_encoder` picks one by name: ``"gru"`` (the default),
``"transformer"``, or any other name, read as a Hugging Face model name (for
instance ``"gpt2"``) and loaded with ``transformers`` when that package is
installed. The Hugging Face encoder turns token ids back into words of the
corpus's vocabulary, tokenises that text with the model's own tokenizer, and
mean-pools the model's last hidden states over the real tokens.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from infomax.validation import InputError

__all__ = [
    "BUILTIN_ENCODERS",
    "GRUEncoder",
    "HuggingFaceEncoder",
    "TransformerEncoder",
    "make_text_encoder",
]

#: Encoder names built without extra packages; any other name is a Hugging Face model.
BUILTIN_ENCODERS = ("gru", "transformer")


class GRUEncoder(nn.Module):
    """Embedding, a one-layer GRU, and a linear map of its last hidden state.

    Args:
        vocab_size: token ids are in ``[0, vocab_size)``.
        out_dim: output size ``D``.
        embed_dim: token embedding size.
        hidden: GRU state size.

    Shapes:
        (B, L) int64 -> (B, out_dim).
    """

    def __init__(self, vocab_size: int, out_dim: int, embed_dim: int = 32, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        _, last = self.gru(self.embed(tokens))
        return self.out(last[-1])


class TransformerEncoder(nn.Module):
    """Embedding plus learned positions, a small pre-norm transformer, mean pooling.

    Args:
        vocab_size: token ids are in ``[0, vocab_size)``.
        out_dim: output size ``D``.
        max_length: the longest sequence it takes.
        width: model width (``embed_dim`` of attention).
        heads: attention heads (dividing ``width``).
        layers: transformer blocks.

    Shapes:
        (B, L) int64, ``L <= max_length`` -> (B, out_dim).
    """

    def __init__(
        self,
        vocab_size: int,
        out_dim: int,
        max_length: int,
        width: int = 64,
        heads: int = 4,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width)
        self.position = nn.Parameter(torch.zeros(max_length, width))
        nn.init.normal_(self.position, std=0.02)
        block = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=2 * width, dropout=0.0, batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Linear(width, out_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        length = tokens.shape[1]
        if length > self.position.shape[0]:
            raise InputError(
                f"the transformer takes at most {self.position.shape[0]} tokens, got {length}"
            )
        hidden = self.blocks(self.embed(tokens) + self.position[:length])
        return self.out(hidden.mean(dim=1))


class HuggingFaceEncoder(nn.Module):
    """A pretrained Hugging Face model over the corpus's words, mean-pooled, then linear.

    Args:
        name: the model's name or local path, for ``AutoModel.from_pretrained``.
        words: the corpus vocabulary: ``words[i]`` is token id ``i``'s text.
        out_dim: output size ``D``.

    Shapes:
        (B, L) int64 ids of the corpus -> (B, out_dim).
    """

    def __init__(self, name: str, words: Sequence[str], out_dim: int) -> None:
        super().__init__()
        transformers = importlib.import_module("transformers")
        self.name = name
        self.words = list(words)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(name)
        if getattr(self.tokenizer, "pad_token", None) is None:  # GPT-2 has none
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = transformers.AutoModel.from_pretrained(name)
        self.out = nn.Linear(int(self.model.config.hidden_size), out_dim)

    def texts(self, tokens: Tensor) -> list[str]:
        """The words of each row, joined by spaces."""
        return [" ".join(self.words[i] for i in row) for row in tokens.tolist()]

    def forward(self, tokens: Tensor) -> Tensor:
        batch = self.tokenizer(self.texts(tokens), return_tensors="pt", padding=True)
        batch = {key: value.to(self.out.weight.device) for key, value in batch.items()}
        hidden = self.model(**batch).last_hidden_state  # (B, L', H)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return self.out((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0))


def make_text_encoder(
    name: str,
    words: Sequence[str],
    out_dim: int,
    max_length: int,
    hidden: int = 64,
) -> nn.Module:
    """The encoder called ``name`` (see the module docstring).

    Args:
        name: ``"gru"``, ``"transformer"`` or a Hugging Face model name.
        words: the vocabulary (its size sets the embedding table; the Hugging Face
            encoder reads the words).
        out_dim: output size ``D``.
        max_length: the longest token sequence (for the transformer's positions).
        hidden: the GRU's state size / the transformer's width.

    Raises:
        InputError: a Hugging Face name while ``transformers`` is not installed.
    """
    if name == "gru":
        return GRUEncoder(len(words), out_dim, hidden=hidden)
    if name == "transformer":
        return TransformerEncoder(len(words), out_dim, max_length, width=hidden)
    if importlib.util.find_spec("transformers") is None:
        raise InputError(
            f"encoder {name!r} is not one of {', '.join(BUILTIN_ENCODERS)}, so it is read as a "
            "Hugging Face model name, which needs the transformers package: "
            "pip install transformers (or use --encoder gru)"
        )
    return HuggingFaceEncoder(name, words, out_dim)
