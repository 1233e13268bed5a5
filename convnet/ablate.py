"""`convnet ablate`: a base net and its variants trained on the same data with the same seeds and
epochs, and the paper's comparison: each variant's top-1 and top-k error, its difference from the base
with the spread over seeds, and the paper's own difference beside it.

Each run is a normal training run in its own folder (<out>/<name>/seed-<s>), so a second `convnet
ablate` with the same arguments continues the runs that did not finish and reuses those that did;
a call with other arguments is refused (reusable) rather than mix two experiments in one table.
The seeds pair the runs: variant and base with seed s start from the same data order and draws, so
the per-seed differences have a smaller spread than the errors themselves.
"""
import os

import numpy as np

from . import json_text
from .checkpoint import Checkpoint
from .config import first_difference, read_ini
from .errors import OptionError
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


# What a run found in the folder must share with the command that would reuse it: the data and how it
# is trained. Not the backend or the devices (a run may move to a GPU), not the seed (the folder's own),
# not the epochs (a run may train longer; see reusable).
SAME_RUN = ("data_provider", "data_path", "image_size", "crop", "train_range", "test_range", "mini", "test_freq",
            "color_noise", "flip", "augment", "lr_plateau", "lr_drops", "wupdate_freq")
ADDED_LATER = {"wupdate_freq": 1}          # what runs saved before an option existed were trained with
# What a run continued takes from the command that continues it, when given: how it runs, not what it computes.
RUN_HERE = ("backend", "gpu", "tf32", "save_freq")


def reusable(folder, configs, options, epochs, fingerprints=None):
    """The run's checkpoint in folder (None if it has none), refused (OptionError) when it is not the
    run this command asks for: another net or params, other data or training options (or the same
    options on batches made again: fingerprints, session.Data.fingerprints of the data now), or more
    epochs trained than asked. Reusing it would put another experiment's numbers in the table."""
    latest = os.path.join(folder, "latest.h5")
    if not os.path.exists(latest):
        return None
    checkpoint = Checkpoint(latest)
    elsewhere = f"another --out (or remove {folder})"
    for given_file, given_text, saved_file, saved_text in ((configs[0], configs[1], *checkpoint.configs[:2]),
                                                           (configs[2], configs[3], *checkpoint.configs[2:])):
        difference = first_difference(given_file, given_text, saved_file, saved_text)
        if difference:
            raise OptionError(f"{folder} holds a run of another net: [{difference[0]}] of {given_file} "
                              f"{difference[1]} the one it was trained with; give {elsewhere}")
    for key in SAME_RUN:
        saved, asked = checkpoint.options.get(key, ADDED_LATER.get(key)), options.get(key)
        if key == "data_path" and saved:      # runs of older versions kept the path as given
            saved = os.path.abspath(saved)
        if saved != asked:
            flag = "--" + key.replace("_", "-")

            def shown(value):
                if value is None:
                    return "the default"
                return (flag if value else f"--no-{flag[2:]}") if isinstance(value, bool) else f"{flag} {value}"
            raise OptionError(f"{folder} was trained with {shown(saved)}, not {shown(asked)}; give the options "
                              f"it was trained with, or {elsewhere}")
    saved = checkpoint.options.get("data_fingerprint") or {}
    changed = [n for n, crc in saved.items() if n in (fingerprints or {}) and fingerprints[n] != crc]
    if changed:
        raise OptionError(f"{folder} was trained on other images: batch {changed[0]} is not the one it saw (the "
                          f"data was made again, or its files replaced); give {elsewhere}")
    done = checkpoint.epoch - 1 + (checkpoint.batch > 0)
    if done > epochs:
        trained = f"{done} epochs" if checkpoint.batch == 0 else f"into epoch {done}"
        raise OptionError(f"{folder} has trained {trained}, more than --epochs {epochs}; give --epochs {done}, "
                          f"or {elsewhere}")
    return checkpoint


def run_one(trainer_factory, folder, checkpoint, epochs, echo):
    """Train (or continue from checkpoint, or reuse) the run in folder; its history of test points."""
    latest = os.path.join(folder, "latest.h5")
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
    """The standard deviation over seeds; None for one seed, which has no spread to measure (0 would
    claim a difference measured exactly)."""
    return float(values.std(ddof=1)) if values.size > 1 else None


def _value(mean, sd, sign=""):
    return f"{mean:{sign}.2f}" if sd is None else f"{mean:{sign}.2f} ± {sd:.2f}"


def markdown(rows, k, epochs, data):
    seeds = ", ".join(map(str, rows[0]["seeds"]))
    over = (f"seed {seeds} (one seed: no spread over seeds to tell a difference from chance; give --seeds 3 or "
            f"more)" if len(rows[0]["seeds"]) == 1 else f"seeds {seeds} (± the standard deviation over seeds)")
    lines = [f"{epochs} epoch{'s' if epochs != 1 else ''} on {data}; mean over {over}; differences are variant "
             f"minus base, seed by seed.", "",
             f"| net | top-1 error % | top-{k} error % | top-1 difference | top-{k} difference | the paper's difference |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        diff = (f"{_value(r['diff_top1'], r['diff_top1_sd'], '+')} | {_value(r['diff_topk'], r['diff_topk_sd'], '+')}"
                if "diff_top1" in r else "(base) | (base)")
        paper = f"+{r['paper_top1']} / +{r['paper_topk']} (top-1 / top-5)" if "paper_top1" in r else ""
        lines.append(f"| {r['name']} | {_value(r['top1'], r['top1_sd'])} | {_value(r['topk'], r['topk_sd'])} | "
                     f"{diff} | {paper} |")
    return "\n".join(lines)


def curves(results, path):
    """A PNG of each net's test top-1 error over training, the mean over seeds."""
    from .files import write_buffer
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
    write_buffer(path, buffer)


def write_results(out, rows, results, table):
    from .files import write_bytes
    write_bytes(os.path.join(out, "ablation.md"), (table + "\n").encode("utf-8"))
    write_bytes(os.path.join(out, "ablation.json"),
                json_text.dumps({"rows": rows, "histories": results}, indent=1).encode("utf-8"))
    curves(results, os.path.join(out, "ablation.png"))


def load_pairs(base, variants):
    """[(name, layers, params, texts)] for the base and each variant: every file read before any training."""
    pairs, names = [], {}
    for number, (layers_file, params_file) in enumerate([base] + variants):
        name = "base" if number == 0 else variant_name(layers_file, base[0])
        if name in names:       # one folder and one row of the table for two nets
            raise OptionError(f"--variant {layers_file}:{params_file}: its runs would go to {name}/, as those of "
                              f"{names[name]}; give each net a file name of its own")
        names[name] = f"{layers_file}:{params_file}" if number else f"the base net {layers_file}"
        texts = config_texts(layers_file, params_file)
        same = next((other for other, *_, t in pairs if not first_difference(*texts[:2], *t[:2]) and
                     not first_difference(*texts[2:], *t[2:])), None)
        if same is not None:     # the same net trained again: a row that measures nothing
            raise OptionError(f"--variant {layers_file}:{params_file}: the same net and params as "
                              f"{names[same]}; a variant differs from the base in its layers or its params")
        if not any((section.get("type") or "").strip() == "cost.logreg"
                   for section in read_ini(texts[0], texts[1], notes=False).values()):
            raise OptionError(f"{layers_file}: no cost.logreg layer; ablate compares top-1 and top-k errors, and "
                              f"only a cost.logreg counts both")
        pairs.append((name, layers_file, params_file, texts))
    return pairs
