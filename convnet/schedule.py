"""Learning-rate schedules: how a weight matrix's rate moves over a run.

Two ways to write them in the params file:

- The 2012 code's (src/lr.cu, layer.py's lrs_parsers): epsW and epsB hold the base rates, and
  schedW= / schedB= (or the older sched=, for both) the shape, with named arguments
      default
      linear[tgtFactor=10,noiseStdev=0]           base -> base/tgtFactor, linearly
      exp[tgtFactor=1000,noiseStdev=0]            base * (1/tgtFactor)^progress
      dexp[tgtFactor=250,noiseStdev=0,numSteps=4] exp, held constant in numSteps equal steps
      jdexp[tgtFactor=250,noiseStdev=0,numSteps=4] dexp, but past the middle of a step (and for
                                                   progress in (0.2, 0.9)) the geometric mean of
                                                   this step's rate and the previous one's
  or positional ones, as some 2012 files wrote them: exp[1000], dexp[250,0,4] (tgtFactor,
  noiseStdev, numSteps), and the older two-value dexp[2000,4] (tgtFactor, numSteps: the files
  that write it say "rates in the range 0.02 to 0.00001" beside epsW=0.02). noiseStdev > 0 multiplies every rate by 1 + |z| * noiseStdev, z ~ N(0, 1)
  drawn afresh at each update (here from a counter-based generator, so a resumed run draws the same).
- convnet's own, in epsW/epsB directly (one value per input, so ';' separates the arguments):
  linear[base;tgtFactor], exp[base;tgtFactor], dexp[base;tgtFactor;numSteps].

progress is the fraction of the run done, in [0, 1], counted as the 2012 code counted it: the data
batches trained before the current one, over the epochs times the batches of an epoch (convnet.py).
"""
import math
import re

FORMS = ("linear", "exp", "dexp", "jdexp")
_2012_ARGS = ("tgtFactor", "noiseStdev", "numSteps")
_OURS = {"linear": ("base", "tgtFactor"), "exp": ("base", "tgtFactor"),
         "dexp": ("base", "tgtFactor", "numSteps")}
_PATTERN = re.compile(r"^\s*(\w+)\s*(?:\[(.*)\])?\s*$")


def run_progress(epoch, batches_done, batches_per_epoch, epochs):
    """progress at a minibatch of `epoch` (from 1) after batches_done of the epoch's data batches."""
    return ((epoch - 1) * batches_per_epoch + batches_done) / (epochs * batches_per_epoch)


class Schedule:
    def __init__(self, form, base, tgt_factor=1.0, num_steps=1, noise_stdev=0.0):
        self.form, self.base, self.tgt_factor = form, base, tgt_factor
        self.num_steps, self.noise_stdev = num_steps, noise_stdev

    def rate(self, progress, normal=None):
        """The rate at progress; normal() gives the standard normal of the rate noise."""
        r = self._rate(min(max(progress, 0.0), 1.0))
        if self.noise_stdev > 0 and normal is not None:
            r *= 1 + abs(normal()) * self.noise_stdev
        return r

    def _rate(self, p):
        final = self.base / self.tgt_factor
        if self.form == "const" or self.base == 0:
            return self.base
        if self.form == "linear":
            return self.base * (1 - p) + final * p
        if self.form == "exp":
            return self.base * self.tgt_factor ** -p
        # dexp: step i of n covers progress (i/n, (i+1)/n]; the last step is the final rate.
        n = self.num_steps
        step = min(n - 1, max(0, math.ceil(p * n) - 1))
        rate = self._step_rate(step)
        if self.form == "jdexp" and step > 0 and 0.2 < p < 0.9 and p > (step + 0.5) / n:
            return math.sqrt(rate * self._step_rate(step - 1))
        return rate

    def _step_rate(self, step):
        n = self.num_steps
        return self.base / self.tgt_factor if step == n - 1 else self.base * self.tgt_factor ** -(step / (n - 1))

    def with_base(self, base):
        """The same shape from another base rate (a 2012 schedW applied to each epsW)."""
        return Schedule(self.form, base, self.tgt_factor, self.num_steps, self.noise_stdev)

    def __repr__(self):
        if self.form == "const":
            return f"{self.base:g}"
        args = [f"tgtFactor={self.tgt_factor:g}", f"noiseStdev={self.noise_stdev:g}"]
        if self.form in ("dexp", "jdexp"):
            args.append(f"numSteps={self.num_steps}")
        return f"{self.base:g} with {self.form}[{','.join(args)}]"


def schedule(text):
    """An epsW/epsB value: a number, or convnet's linear[base;tgtFactor] and the like. Raises
    ValueError with a readable message."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"a learning rate must be a finite number >= 0, got {text!r}")
        return Schedule("const", value)
    m = _PATTERN.match(text)
    if not m or m.group(1) not in _OURS or m.group(2) is None:
        raise ValueError(f"expected a number or linear[base;tgtFactor], exp[base;tgtFactor], "
                         f"dexp[base;tgtFactor;numSteps]; got {text!r}")
    form, names = m.group(1), _OURS[m.group(1)]
    values = _arguments(form, m.group(2), ";", names, names)
    if values["base"] < 0:
        raise ValueError(f"{form}[...] needs base >= 0")
    return _make(form, values["base"], values)


def schedule_2012(text):
    """A schedW/schedB/sched value, the shape alone (its base comes from epsW/epsB): a Schedule of
    base 1, or None for `default`. Raises ValueError with a readable message."""
    m = _PATTERN.match(text.strip())
    if not m or m.group(1) not in ("default",) + FORMS:
        raise ValueError(f"expected default, linear[tgtFactor=..,noiseStdev=..], exp[...], dexp[...,numSteps=..] "
                         f"or jdexp[...]; got {text.strip()!r}")
    form = m.group(1)
    if form == "default":
        if m.group(2) not in (None, ""):
            raise ValueError("default takes no arguments")
        return None
    names = _2012_ARGS if form in ("dexp", "jdexp") else _2012_ARGS[:2]
    inside = m.group(2) or ""
    if len(names) == 3 and "=" not in inside and len(inside.split(",")) == 2:
        names = ("tgtFactor", "numSteps")  # the form from before rate noise: dexp[2000,4]
    values = _arguments(form, inside, ",", names, names[:1] + (("numSteps",) if form in ("dexp", "jdexp") else ()))
    return _make(form, 1.0, values)


def _arguments(form, inside, separator, names, required):
    """{name: value} from 'a=1,b=2' or '1,2' (positional, in the order of names)."""
    parts = [p.strip() for p in inside.split(separator)] if inside.strip() else []
    if len(parts) > len(names):
        raise ValueError(f"{form}[...] takes at most {len(names)} values ({separator.join(names)}), got {len(parts)}")
    values = {}
    for i, part in enumerate(parts):
        name, eq, val = part.partition("=")
        name, val = (name.strip(), val) if eq else (names[i], name)
        if name not in names:
            raise ValueError(f"{form}[...] has no argument {name!r} (it takes {separator.join(names)})")
        if name in values:
            raise ValueError(f"{form}[...] gives {name} twice")
        try:
            values[name] = float(val)
        except ValueError:
            raise ValueError(f"{form}[...] {name} must be a number, got {val.strip()!r}") from None
        if not math.isfinite(values[name]):
            raise ValueError(f"{form}[...] {name} must be finite, got {val.strip()!r}")
    missing = [n for n in required if n not in values]
    if missing:
        raise ValueError(f"{form}[...] needs {missing[0]}")
    return values


def _make(form, base, values):
    tgt = values.get("tgtFactor", 1.0)
    noise = values.get("noiseStdev", 0.0)
    steps = values.get("numSteps", 1.0)
    if tgt <= 0:
        raise ValueError(f"{form}[...] needs tgtFactor > 0")
    if noise < 0:
        raise ValueError(f"{form}[...] needs noiseStdev >= 0")
    if form in ("dexp", "jdexp") and (steps != int(steps) or steps < 2):
        raise ValueError(f"{form}[...] needs a whole numSteps >= 2")
    return Schedule(form, base, tgt, int(steps), noise)
