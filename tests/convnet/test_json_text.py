"""Every --json output and ablation.json is JSON that strict parsers read: no NaN, no Infinity."""
import json

import numpy as np
import pytest

from convnet import json_text
from tests.training import strict_json


def test_nan_and_infinities_become_null_at_any_depth():
    value = {"cost": float("inf"), "rows": [{"top1": np.float64("nan"), "ratio": -np.inf}, (1.5, np.float32(2.5))],
             "ok": 0.25}
    text = json_text.dumps(value)
    assert strict_json(text) == {"cost": None, "rows": [{"top1": None, "ratio": None}, [1.5, 2.5]], "ok": 0.25}
    assert "NaN" in json.dumps({"top1": float("nan")})          # what Python's json alone writes, and strict parsers refuse


def test_numpy_numbers_and_arrays_are_plain():
    value = {"n": np.int32(7), "flag": np.bool_(True), "a": np.array([[1.0, np.nan], [3.0, 4.0]], np.float32)}
    assert strict_json(json_text.dumps(value)) == {"n": 7, "flag": True, "a": [[1.0, None], [3.0, 4.0]]}
    assert type(json_text.plain(np.float32(0.5))) is float and type(json_text.plain(np.int64(3))) is int


def test_what_is_still_not_json_raises_instead_of_being_written():
    with pytest.raises(TypeError):
        json_text.dumps({"x": object()})
    with pytest.raises(AssertionError, match="NaN"):
        strict_json('{"x": NaN}')
