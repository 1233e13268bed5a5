"""cuda-convnet's option names and what they are here, for the line that refuses an option we do not
have: a user of the 2012 code types its options first (run4.sh resumed with `-f FOLDER
--layer-params=...`, test.sh tested with `-f ... --test-only=1 --multiview-test=1`, tm.sh wrote features
with shownet.py's `--write-features`).
"""

# cuda-convnet's option: what does its work here. Options with the same name here (--epochs, --gpu,
# --mini, --test-range, --color-noise, --conv-to-local, ...) never reach this table.
HERE = {
    "-f": "--load CHECKPOINT, a run's latest.h5 or its folder (a ConvNet__<time> folder of the 2012 code: convnet "
          "import it first)",
    "--layer-def": "--layers",
    "--layer-params": "--params, on resume too: convnet train --load CHECKPOINT --params new.cfg",
    "--test-only": "convnet test --load CHECKPOINT",
    "--multiview-test": "convnet test --multiview",
    "--check-grads": "convnet check-grads --layers L --params P",
    "--crop-border": "--crop SIZE, the side of the crop (224 of 256) rather than the border around it",
    "--test-out": "convnet test --predictions F.h5",
    "--logreg-name": "convnet test --predictions F.h5, from the net's cost.logreg",
    "--write-features": "convnet features --load CHECKPOINT --layer NAME --out F.h5",
    "--feature-path": "convnet features --out F.h5",
    "--show-filters": "convnet show --filters LAYER",
    "--input-idx": "convnet show --filters LAYER[i]",
    "--show-maps": "convnet show --maps LAYER",
    "--show-preds": "convnet show --preds",
    "--only-errors": "convnet show --preds --errors",
    "--show-cost": "convnet show --cost",
    "--cost-idx": "convnet show --cost, which draws the cost and the errors both",
    "--channels": "convnet show --filters LAYER, which takes an fc layer's channels from the shape of its input",
    "--top5": "convnet test, which gives the top-5 error",
    "--show-data-grad": "convnet show --data-grads",
    "--webcam": "convnet predict --load CHECKPOINT FRAME.jpg..., on frames saved as image files",
}

# cuda-convnet's options with nothing to do here, and why.
NONE = {
    "--conserve-mem": "it traded speed for GPU memory; training frees each layer's output as soon as the backward "
                      "is past it on the CPU, and not yet on a GPU",
    "--pca-noise": "the 2012 code read it and used it nowhere (convdata.py); the paper's PCA colour noise is "
                   "--color-noise",
}


def hint(option):
    """"for cuda-convnet's -f, use --load ..." for an option of the 2012 code, else None."""
    if option in NONE:
        return f"cuda-convnet's {option} has nothing to do here: {NONE[option]}"
    ours = HERE.get(option)
    return f"for cuda-convnet's {option}, use {ours}" if ours else None
