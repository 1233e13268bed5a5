"""The config reference of the README, written from the layer types' key schemas.

    python -m convnet.docs            prints it; tests/convnet/test_docs.py checks the README holds it
    python -m convnet.docs --write    writes it into README.md, between its markers
"""
import inspect
import sys

from .config import REQUIRED
from .layer import QUANT_KEYS
from .registry import layer_types

BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"
FILES = {"layers": "definition", "params": "params", "either": "either"}


def _default(key):
    if key.default is REQUIRED:
        return "required"
    if key.default is None:
        return "-"
    if isinstance(key.default, bool):
        return str(int(key.default))
    return f"{key.default:g}" if isinstance(key.default, float) else str(key.default)


def _table(keys):
    rows = ["| key | file | default | per input | meaning |", "|---|---|---|---|---|"]
    for key in keys:
        rows.append(f"| {key.name} | {FILES[key.where]} | {_default(key)} | "
                    f"{'yes' if key.per_input else ''} | {key.doc} |")
    return rows


def config_reference():
    out = [BEGIN, "\n**Every layer** (besides `type`, `inputs`, `gpu` and `neuron`):\n"]
    out.extend(_table(QUANT_KEYS))
    for name, cls in layer_types().items():
        # the docstring's first paragraph, which may wrap over several lines
        first = inspect.getdoc(inspect.getmodule(cls)).split("\n\n")[0]
        summary = " ".join(first.split()).split(": ", 1)[-1]
        out.append(f"\n**{name}**: {summary}\n")
        keys = list(cls.keys)
        if not keys:
            out.append("No keys besides `type` and `inputs`.")
            continue
        out.extend(_table(keys))
    out.append(END)
    return "\n".join(out)


def write(readme="README.md"):
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text[:start] + config_reference() + text[end:])


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        print(config_reference())
