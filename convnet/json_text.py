"""JSON that every parser reads.

Python's json writes NaN and infinities as `NaN` and `Infinity`, which are not JSON: jq, JavaScript's
JSON.parse, Go and most other readers refuse the whole document. A test cost is infinite when a
probability underflows to zero, an update ratio has no value for weights that are all zero, a run
without a cost layer has no error: such numbers are written as null. NumPy scalars and arrays become
plain numbers and lists.
"""
import json
import math

import numpy as np


def plain(value):
    """value with NumPy numbers as Python ones and every NaN or infinity as None, at any depth."""
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def dumps(value, **kwargs):
    """json.dumps of plain(value); anything that is still not JSON raises instead of being written."""
    return json.dumps(plain(value), allow_nan=False, **kwargs)
