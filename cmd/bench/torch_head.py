"""Trains dogrun's bench heads with PyTorch on the same cached features, one
after another as a user would script a sweep, and prints JSON: each head's
epoch seconds and stopping point, the loop's total seconds, and the BLAS
PyTorch ran on. Run by cmd/bench.

An epoch is what dogrun's train.Fit does per epoch: shuffle, ceil(n/batch)
full batches (the last one wraps around to the start), a validation pass,
and a copy of the weights when the validation loss improves. A head stops
after `patience` epochs without improvement (0: never) and ends holding its
best epoch's weights.
"""

import argparse
import json
import math
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--hidden", default="")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--trials", required=True,
                   help="JSON list of {seed, dropout, lr, weight_decay, epochs, patience, min_delta}")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    def load(name, dtype, cols):
        with open(f"{a.dir}/{name}", "rb") as f:
            t = torch.frombuffer(bytearray(f.read()), dtype=dtype)
        return t.reshape(-1, cols) if cols > 1 else t.long()

    xt, yt = load("train_x.f32", torch.float32, a.dim), load("train_y.i32", torch.int32, 1)
    xv, yv = load("val_x.f32", torch.float32, a.dim), load("val_y.i32", torch.int32, 1)
    hidden = [int(s) for s in a.hidden.split(",") if s]

    start = time.perf_counter()
    heads = [fit(t, xt, yt, xv, yv, a, hidden) for t in json.loads(a.trials)]
    total = time.perf_counter() - start
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "blas": blas(), "total_seconds": total, "trials": heads}))


def fit(trial, xt, yt, xv, yv, a, hidden):
    torch.manual_seed(trial["seed"])
    layers, width = [], a.dim
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU(), torch.nn.Dropout(trial["dropout"])]
        width = h
    layers.append(torch.nn.Linear(width, a.classes))
    model = torch.nn.Sequential(*layers)
    # Decoupled weight decay, as dogrun's adam; plain Adam without it, so
    # the reference does not pay for a decay of zero.
    if trial["weight_decay"] > 0:
        opt = torch.optim.AdamW(model.parameters(), lr=trial["lr"], weight_decay=trial["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=trial["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()

    n = xt.shape[0]
    batch = min(a.batch, n)
    steps = math.ceil(n / batch)
    g = torch.Generator().manual_seed(trial["seed"])
    best, best_epoch, kept, waited, seconds = math.inf, 0, None, 0, []
    for epoch in range(1, trial["epochs"] + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=g)
        order = torch.cat([order, order[: steps * batch - n]])
        for s in range(steps):
            idx = order[s * batch : (s + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(xv), yv).item()
        stop = False
        if val_loss < best - trial["min_delta"] or kept is None:
            best, best_epoch, waited = val_loss, epoch, 0
            kept = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            stop = 0 < trial["patience"] <= waited
        seconds.append(time.perf_counter() - start)
        if stop:
            break
    model.load_state_dict(kept)
    return {"epoch_seconds": seconds, "best_epoch": best_epoch, "stopped_epoch": len(seconds)}


def blas():
    """The BLAS libraries loaded and the kernels they chose (threadpoolctl),
    or PyTorch's build line naming its BLAS when threadpoolctl is missing."""
    try:
        import threadpoolctl
    except ImportError:
        return [l.strip() for l in torch.__config__.show().splitlines() if "BLAS" in l]
    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [{k: i.get(k) for k in keys} for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]


if __name__ == "__main__":
    main()
