"""DEMI for dialogue: response selection on a synthetic multi-turn corpus.

The DEMI paper's dialogue experiment (Sordoni et al., ICML 2021) fine-tunes
GPT-2 with ``x`` the context, ``x'`` the context without its earlier
utterances and ``y`` the response. This package sets up the same objective on
a corpus whose answers are known exactly, with small encoders trained from
scratch (a pretrained Hugging Face model can stand in when ``transformers`` is
installed)::

    from infomax.dialogue import train_dialogue

    result = train_dialogue(objective="demi-is", steps=2000, seed=0)
    print(result.selection["10"]["recall"], result.references["10"]["bayes"])

- :mod:`infomax.dialogue.corpus`: the generator (a hidden topic carried across
  turns, an intent in the last utterance) and its exact log ratio.
- :mod:`infomax.dialogue.exact`: exact ``I(x; y)``, ``I(x'; y)`` and the
  Bayes-optimal recall@1 among ``K`` candidates.
- :mod:`infomax.dialogue.encoders`: GRU, small transformer, Hugging Face model.
- :mod:`infomax.dialogue.model`: the critics and the objectives (InfoNCE, DEMI
  with I_BO or I_IS).
- :mod:`infomax.dialogue.evaluate`: candidate sets and recall@1.
- :mod:`infomax.dialogue.train`: :func:`train_dialogue`, the API of
  ``infomax train dialogue``.
"""

from infomax.dialogue.corpus import Dialogues, DialogueSpec, generate_dialogues
from infomax.dialogue.exact import bayes_recall, exact_information
from infomax.dialogue.model import OBJECTIVES, DialogueModel
from infomax.dialogue.train import DialogueResult, train_dialogue

__all__ = [
    "OBJECTIVES",
    "DialogueModel",
    "DialogueResult",
    "DialogueSpec",
    "Dialogues",
    "bayes_recall",
    "exact_information",
    "generate_dialogues",
    "train_dialogue",
]
