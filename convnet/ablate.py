"""`convnet ablate`: a base net and its variants trained on the same data with the same seeds and
epochs, and the paper's comparison: each variant's top-1 and top-k error, its difference from the base
with the spread over seeds, and the paper's own difference beside it.

Each run is a normal training run in its own folder (<out>/<name>/seed-<s>), so a second `convnet
ablate` with the same arguments continues the runs that did not finish and reuses those that did.
The seeds pair the runs: variant and base with seed s start from the same data order and draws, so
the per-seed differences have a smaller spread than the errors themselves.
"""
import os

import numpy as np

from . import json_text
from .checkpoint import Checkpoint
from .session import config_texts

# The paper's differences (section 3.3, 3.4, 3.2), in top-1 / top-5 error points, variant minus base.
PAPER = {"nolrn": (1.4, 1.2), "nonoverlap": (0.4, 0.3), "onecolumn": (1.7, 1.2)}
DEFAULT = ("configs/alexnet.cfg", "configs/alexnet-params.cfg",
           [f"configs/alexnet-{v}.cfg" for v in ("nolrn", "nonoverlap", "onecolumn")])


def variant_name(layers_file, base_file):
    """alexnet-nolrn.cfg beside alexnet.cfg: 'nolrn'; else the file's stem."""
    stem, base = (os.path.splitext(os.path.basename(p))[0] for p in (layers_file, base_file))
    return stem[len(base) + 1:] if stem.startswith(base + "-") else stem


def params_beside(layers_file):
    """x.cfg's params file: x-params.cfg, as the repository names them."""
    stem, ext = os.path.splitext(layers_file)
    return f"{stem}-params{ext}"


def run_one(trainer_factory, folder, epochs, echo):
    """Train (or continue, or reuse) the run in folder; its last test point."""
    latest = os.path.join(folder, "latest.h5")
    checkpoint = Checkpoint(latest) if os.path.exists(latest) else None
    if checkpoint is not None and checkpoint.history and checkpoint.epoch > epochs:
        echo(f"  {folder}: done earlier")
        return checkpoint.history
    code = trainer_factory(folder, checkpoint).run()
    if code != 0:
        raise SystemExit(code)
    return Checkpoint(latest).history


def summarize(results, base):
    """Rows of the comparison from {name: {seed: history}}."""
    rows = []
    for name, runs in results.items():
        seeds = sorted(runs)
        top1 = np.array([100 * runs[s][-1]["test_top1"] for s in seeds])
        topk = np.array([100 * runs[s][-1]["test_topk"] for s in seeds])
        row = dict(name=name, seeds=seeds, top1=float(top1.mean()), top1_sd=_sd(top1), topk=float(topk.mean()),
                   topk_sd=_sd(topk))
        if name != base:
            d1 = top1 - np.array([100 * results[base][s][-1]["test_top1"] for s in seeds])
            dk = topk - np.array([100 * results[base][s][-1]["test_topk"] for s in seeds])
            row.update(diff_top1=float(d1.mean()), diff_top1_sd=_sd(d1), diff_topk=float(dk.mean()),
                       diff_topk_sd=_sd(dk))
            if name in PAPER:
                row["paper_top1"], row["paper_topk"] = PAPER[name]
        rows.append(row)
    return rows


def _sd(values):
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def markdown(rows, k, epochs, data):
    seeds = ", ".join(map(str, rows[0]["seeds"]))
    lines = [f"{epochs} epoch{'s' if epochs != 1 else ''} on {data}; mean over seeds {seeds} (± the standard "
             f"deviation over seeds); differences are variant minus base, seed by seed.", "",
             f"| net | top-1 error % | top-{k} error % | top-1 difference | top-{k} difference | the paper's difference |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        diff = (f"{r['diff_top1']:+.2f} ± {r['diff_top1_sd']:.2f} | {r['diff_topk']:+.2f} ± {r['diff_topk_sd']:.2f}"
                if "diff_top1" in r else "(base) | (base)")
        paper = f"+{r['paper_top1']} / +{r['paper_topk']} (top-1 / top-5)" if "paper_top1" in r else ""
        lines.append(f"| {r['name']} | {r['top1']:.2f} ± {r['top1_sd']:.2f} | {r['topk']:.2f} ± {r['topk_sd']:.2f} | "
                     f"{diff} | {paper} |")
    return "\n".join(lines)


def curves(results, path):
    """A PNG of each net's test top-1 error over training, the mean over seeds."""
    from .files import write_bytes
    from .show import _palette, _plot
    import io
    names = list(results)
    first = next(iter(results[names[0]].values()))
    epochs = [h["epoch"] for h in first]
    series = []
    for name, colour in zip(names, _palette(len(names))):
        runs = list(results[name].values())
        n = min(len(r) for r in runs)
        series.append((name, [100 * float(np.mean([r[i]["test_top1"] for r in runs])) for i in range(n)], colour))
    image = _plot(epochs[:min(len(s[1]) for s in series)], series, "test top-1 error %, mean over seeds",
                  height=300, width=600)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes(path, buffer.getbuffer())


def write_results(out, rows, results, table):
    from .files import write_bytes
    write_bytes(os.path.join(out, "ablation.md"), (table + "\n").encode("utf-8"))
    write_bytes(os.path.join(out, "ablation.json"),
                json_text.dumps({"rows": rows, "histories": results}, indent=1).encode("utf-8"))
    curves(results, os.path.join(out, "ablation.png"))


def load_pairs(base, variants):
    """[(name, layers, params, texts)] for the base and each variant: every file read before any training."""
    pairs = []
    for layers_file, params_file in [base] + variants:
        name = "base" if (layers_file, params_file) == base else variant_name(layers_file, base[0])
        pairs.append((name, layers_file, params_file, config_texts(layers_file, params_file)))
    return pairs
