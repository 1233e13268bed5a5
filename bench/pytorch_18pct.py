"""An independent PyTorch implementation of cuda-convnet's layers-18pct (CIFAR) net and its params
(conv 5x5 pad 2, max/avg pooling 3 stride 2 with clipped windows, within-map rnorm 3x3, the 2012
update rule with wc per layer), trained on bench/digits_batches.py's images for 30 epochs with
minibatches of 128: the same net, rule and data, no convnet code. Needs PyTorch, which convnet does
not. Run in the folder digits_batches.py wrote: python pytorch_18pct.py SEED [EPOCHS]."""
import sys, numpy as np, torch, torch.nn.functional as F
seed = int(sys.argv[1]); epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
torch.manual_seed(seed); rng = np.random.default_rng(seed)
torch.set_num_threads(2)
X = np.load("all_images.npy").astype(np.float32); Y = np.load("all_labels.npy")
Xtr, Ytr, Xte, Yte = X[:1500], Y[:1500], X[1500:], Y[1500:]
mean = Xtr.mean(axis=0, keepdims=True); Xtr, Xte = Xtr - mean, Xte - mean
def normal(shape, std): return (torch.randn(*shape) * std).requires_grad_()
P = {"w1": normal((32, 3, 5, 5), 1e-4), "b1": torch.zeros(32, requires_grad=True),
     "w2": normal((32, 32, 5, 5), 0.01), "b2": torch.zeros(32, requires_grad=True),
     "w3": normal((64, 32, 5, 5), 0.01), "b3": torch.zeros(64, requires_grad=True),
     "w4": normal((10, 1024), 0.01), "b4": torch.zeros(10, requires_grad=True)}
WC = {"w1": 0.004, "w2": 0.004, "w3": 0.004, "w4": 1.0}
def rnorm(x, size=3, scale=5e-5, power=0.75):   # within-map: x * (1 + scale/size^2 * sum over size x size of x^2)^-pow
    s = F.avg_pool2d(x * x, size, 1, size // 2, count_include_pad=True)
    return x * (1 + scale * s) ** -power
def net(x):
    x = F.relu(F.conv2d(x, P["w1"], P["b1"], padding=2))
    x = rnorm(F.max_pool2d(x, 3, 2, ceil_mode=True))
    x = F.relu(F.conv2d(x, P["w2"], P["b2"], padding=2))
    x = rnorm(F.avg_pool2d(x, 3, 2, ceil_mode=True, count_include_pad=False))
    x = F.relu(F.conv2d(x, P["w3"], P["b3"], padding=2))
    x = F.avg_pool2d(x, 3, 2, ceil_mode=True, count_include_pad=False)
    return x.reshape(len(x), -1) @ P["w4"].T + P["b4"]
inc = {k: torch.zeros_like(v) for k, v in P.items()}
for epoch in range(epochs):
    order = rng.permutation(1500)
    for i in range(0, 1500, 128):
        idx = order[i:i + 128]
        loss = F.cross_entropy(net(torch.from_numpy(Xtr[idx])), torch.from_numpy(Ytr[idx]).long())  # batch mean
        grads = torch.autograd.grad(loss, list(P.values()))
        with torch.no_grad():
            for (k, v), g in zip(P.items(), grads):
                eps = 0.001 if k[0] == "w" else 0.002
                inc[k] = 0.9 * inc[k] - WC.get(k, 0.0) * eps * v - eps * g
                v += inc[k]
with torch.no_grad():
    err = (net(torch.from_numpy(Xte)).argmax(1).numpy() != Yte).mean()
print(f"seed {seed}: test top-1 error {100 * err:.2f}%")
