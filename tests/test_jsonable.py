import json
import math
from pathlib import Path

import numpy as np
import torch

from infomax.jsonable import dump_json, to_jsonable, write_json_atomic


def test_to_jsonable_converts_numpy_torch_paths_and_non_finite():
    value = {
        1: np.float32(0.5),
        "a": np.arange(3),
        "t": torch.tensor([1.0, float("nan")]),
        "p": Path("/x/y"),
        "f": (math.inf, -math.inf, 2.0),
    }
    out = to_jsonable(value)
    assert out == {"1": 0.5, "a": [0, 1, 2], "t": [1.0, None], "p": "/x/y", "f": [None, None, 2.0]}
    assert json.loads(dump_json(value)) == out


def test_write_json_atomic_leaves_no_partial(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "r.json", {"mi": float("nan"), "n": 3})
    assert json.loads(path.read_text()) == {"mi": None, "n": 3}
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]
