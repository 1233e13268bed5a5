"""scikit-learn's handwritten digits as cuda-convnet batches, for a real-data check of layers-18pct
against bench/pytorch_18pct.py (needs scikit-learn, which convnet does not): 8x8 images to 32x32 by
4x4 blocks, 0..16 to 0..255, grey in 3 channels, shuffled once (seed 0), batches of 300: 1-5 train
(1500 images), 6 test (297). Writes into the current folder:

    python bench/digits_batches.py   (in an empty folder)
    convnet train --layers tests/reference/alexnet-2012/cifar/layers-18pct.cfg \
        --params tests/reference/alexnet-2012/cifar/layer-params-18pct.cfg \
        --data-provider cifar --data-path . --epochs 30 --seed 1
    python bench/pytorch_18pct.py 1
"""
import pickle, numpy as np
from sklearn.datasets import load_digits
d = load_digits()
x = np.clip(d.images * 16, 0, 255).astype(np.uint8)            # (1797, 8, 8), 0..16 -> 0..255
x = np.kron(x, np.ones((1, 4, 4), np.uint8))                   # (1797, 32, 32)
order = np.random.default_rng(0).permutation(len(x))
x, y = x[order], d.target[order]
imgs = np.repeat(x[:, None], 3, axis=1)                        # (n, 3, 32, 32)
flat = imgs.reshape(len(x), -1).T.copy()                       # (3072, n), channel-major as cuda-convnet
np.save("all_images.npy", imgs); np.save("all_labels.npy", y)
for b in range(6):
    s = slice(300 * b, 300 * (b + 1))
    pickle.dump({"data": flat[:, s].copy(), "labels": list(map(int, y[s]))}, open(f"data_batch_{b + 1}", "wb"), protocol=2)
mean = flat[:, :1500].mean(axis=1, keepdims=True)
pickle.dump({"data_mean": mean, "label_names": [str(i) for i in range(10)], "num_vis": 3072}, open("batches.meta", "wb"), protocol=2)
print(flat.shape, np.bincount(y[1500:]))
