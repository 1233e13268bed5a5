"""Learning-rate schedules, as the params file writes them in epsW/epsB.

A plain number is a constant rate (the 2012 files). cuda-convnet2's forms are accepted too, with named
or positional arguments separated by ';' (',' already separates the inputs of a weight layer):

    linear[base;tgtFactor]          base -> base/tgtFactor, linearly over training
    exp[base;tgtFactor]             base * tgtFactor^-progress
    dexp[base;tgtFactor;numSteps]   exp, held constant in numSteps equal steps, ending at base/tgtFactor

progress is the fraction of the run done (epochs done / epochs asked for), in [0, 1].
"""
import math
import re

_FORMS = {"linear": ("base", "tgtFactor"), "exp": ("base", "tgtFactor"),
          "dexp": ("base", "tgtFactor", "numSteps")}
_PATTERN = re.compile(r"^\s*(\w+)\s*\[(.*)\]\s*$")


class Schedule:
    def __init__(self, form, base, tgt_factor=1.0, num_steps=1):
        self.form, self.base, self.tgt_factor, self.num_steps = form, base, tgt_factor, num_steps

    def rate(self, progress):
        p = min(max(progress, 0.0), 1.0)
        final = self.base / self.tgt_factor
        if self.form == "const":
            return self.base
        if self.form == "linear":
            return self.base * (1 - p) + final * p
        if self.form == "exp":
            return self.base * self.tgt_factor ** -p
        # dexp: step i of n covers progress (i/n, (i+1)/n]; the last step is the final rate.
        n = self.num_steps
        step = min(n - 1, max(0, math.ceil(p * n) - 1))
        return final if step == n - 1 else self.base * self.tgt_factor ** -(step / (n - 1))

    def __repr__(self):
        if self.form == "const":
            return f"{self.base:g}"
        args = [f"base={self.base:g}", f"tgtFactor={self.tgt_factor:g}"]
        if self.form == "dexp":
            args.append(f"numSteps={self.num_steps}")
        return f"{self.form}[{';'.join(args)}]"


def schedule(text):
    """Parse a rate: a number or one of the forms above. Raises ValueError with a readable message."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if value < 0:
            raise ValueError(f"a learning rate must not be negative, got {value:g}")
        return Schedule("const", value)
    m = _PATTERN.match(text)
    if not m or m.group(1) not in _FORMS:
        raise ValueError(f"expected a number or linear[base;tgtFactor], exp[base;tgtFactor], "
                         f"dexp[base;tgtFactor;numSteps]; got {text!r}")
    form, names = m.group(1), _FORMS[m.group(1)]
    parts = [p.strip() for p in m.group(2).split(";") if p.strip()]
    if len(parts) != len(names):
        raise ValueError(f"{form}[...] takes {len(names)} values ({';'.join(names)}), got {len(parts)}")
    values = {}
    for i, part in enumerate(parts):
        name, _, val = part.rpartition("=")
        name = name.strip() or names[i]
        if name not in names:
            raise ValueError(f"{form}[...] has no argument {name!r} (it takes {';'.join(names)})")
        try:
            values[name] = float(val)
        except ValueError:
            raise ValueError(f"{form}[...] {name} must be a number, got {val.strip()!r}") from None
    if values["base"] < 0 or values["tgtFactor"] <= 0:
        raise ValueError(f"{form}[...] needs base >= 0 and tgtFactor > 0")
    steps = int(values.get("numSteps", 1))
    if form == "dexp" and steps < 2:
        raise ValueError("dexp[...] needs numSteps >= 2")
    return Schedule(form, values["base"], values["tgtFactor"], steps)
