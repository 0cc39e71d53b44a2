"""Trains the same MLP head as dogrun's bench on the same cached features with
PyTorch, and prints each epoch's seconds as JSON. Run by bench/main.go.

An epoch is what dogrun's train.Fit does per epoch: shuffle, ceil(n/batch)
full batches (the last one wraps around to the start), a validation pass,
and a copy of the weights when the validation loss improves.
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
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    def load(name, dtype, cols):
        with open(f"{a.dir}/{name}", "rb") as f:
            t = torch.frombuffer(bytearray(f.read()), dtype=dtype)
        return t.reshape(-1, cols) if cols > 1 else t.long()

    xt, yt = load("train_x.f32", torch.float32, a.dim), load("train_y.i32", torch.int32, 1)
    xv, yv = load("val_x.f32", torch.float32, a.dim), load("val_y.i32", torch.int32, 1)

    layers, width = [], a.dim
    for h in [int(s) for s in a.hidden.split(",") if s]:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU(), torch.nn.Dropout(a.dropout)]
        width = h
    layers.append(torch.nn.Linear(width, a.classes))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    n = xt.shape[0]
    batch = min(a.batch, n)
    steps = math.ceil(n / batch)
    g = torch.Generator().manual_seed(a.seed)
    best, seconds = math.inf, []
    for _ in range(a.epochs):
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
        if val_loss < best:
            best = val_loss
            _ = {k: v.clone() for k, v in model.state_dict().items()}
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "epoch_seconds": seconds}))


if __name__ == "__main__":
    main()
