"""PyTorch side of the benchmark. One workload per call, one JSON line per measurement.

  torch_peer.py w1 --batch 32 --epochs 1 --threads 2
  torch_peer.py w3 --n 16777216 --threads 2 --reps 5
  torch_peer.py w4 --threads 2
  torch_peer.py w7 --epochs 10 --threads 2
"""

import statistics
import sys
import time

import numpy as np
import torch

from common import arg, emit, fashion_mnist, peak_rss_bytes


def w1():
    batch, epochs = arg("batch", 32, int), arg("epochs", 1, int)
    x, y, _, _ = fashion_mnist()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        emit({"workload": "w1", "batch": batch, "epoch": epoch + 1, "seconds": seconds,
              "samples_per_second": n / seconds, "loss": loss.item(), "max_rss": peak_rss_bytes()})


def w7():
    """W7, timed from outside as a whole process (bench/peers/wall.py): W2's set-up in PyTorch,
    784-100-10 ReLU, Adam (lr 1e-3) with scikit-learn's L2 penalty (alpha 1e-4 / batch on the
    weights' gradient), batch 200, then the accuracy on the test images."""
    epochs, batch = arg("epochs", 10, int), 200
    x, y, x_test, y_test = fashion_mnist()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    opt = torch.optim.Adam([{"params": weights, "weight_decay": 1e-4 / batch}, {"params": biases}], lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    with torch.inference_mode():
        predicted = model(torch.from_numpy(x_test)).argmax(dim=1)
    accuracy = (predicted == torch.from_numpy(y_test)).double().mean().item()
    emit({"workload": "w7", "epochs": epochs, "test_accuracy": accuracy})


FUNCTIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "elu", "softplus"]


def kernels(name):
    """(forward(x, out), backward(grad, x, y, out)) with PyTorch's own kernels, writing into
    preallocated outputs (ATen's `out=` variants), so that no call allocates."""
    a = torch.ops.aten
    forward = {
        "relu": lambda x, o: torch.clamp_min(x, 0.0, out=o),
        "leaky_relu": lambda x, o: a.leaky_relu.out(x, 0.01, out=o),
        "sigmoid": lambda x, o: torch.sigmoid(x, out=o),
        "tanh": lambda x, o: torch.tanh(x, out=o),
        "gelu": lambda x, o: a.gelu.out(x, out=o),
        "silu": lambda x, o: a.silu.out(x, out=o),
        "elu": lambda x, o: a.elu.out(x, out=o),
        "softplus": lambda x, o: a.softplus.out(x, 1.0, 20.0, out=o),
    }[name]
    backward = {
        "relu": lambda g, x, y, o: a.threshold_backward.grad_input(g, y, 0.0, grad_input=o),
        "leaky_relu": lambda g, x, y, o: a.leaky_relu_backward.grad_input(g, x, 0.01, False, grad_input=o),
        "sigmoid": lambda g, x, y, o: a.sigmoid_backward.grad_input(g, y, grad_input=o),
        "tanh": lambda g, x, y, o: a.tanh_backward.grad_input(g, y, grad_input=o),
        "gelu": lambda g, x, y, o: a.gelu_backward.grad_input(g, x, grad_input=o),
        "silu": lambda g, x, y, o: a.silu_backward.grad_input(g, x, grad_input=o),
        "elu": lambda g, x, y, o: a.elu_backward.grad_input(g, 1.0, 1.0, 1.0, False, x, grad_input=o),
        "softplus": lambda g, x, y, o: a.softplus_backward.grad_input(g, x, 1.0, 20.0, grad_input=o),
    }[name]
    return forward, backward


def best_of(reps, f):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def w3():
    n, reps = arg("n", 1 << 24, int), arg("reps", 7, int)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, generator=g) * 12 - 6
    grad = torch.rand(n, generator=g) * 2 - 1
    y, out = torch.empty(n), torch.empty(n)
    out.copy_(x)
    copy = best_of(reps, lambda: out.copy_(x))
    emit({"workload": "w3", "function": "copy", "direction": "copy", "seconds": copy, "bytes": 8 * n})
    for name in FUNCTIONS:
        forward, backward = kernels(name)
        forward(x, y)
        emit({"workload": "w3", "function": name, "direction": "forward",
              "seconds": best_of(reps, lambda: forward(x, y)), "bytes": 8 * n})
        emit({"workload": "w3", "function": name, "direction": "backward",
              "seconds": best_of(reps, lambda: backward(grad, x, y, out)), "bytes": 12 * n})


def w4():
    calls, rounds = arg("calls", 2000, int), arg("rounds", 51, int)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(40, 100), torch.nn.ReLU(),
        torch.nn.Linear(100, 100), torch.nn.ReLU(),
        torch.nn.Linear(100, 10), torch.nn.Softmax(dim=-1),
    ).eval()
    x = torch.rand(1, 40)
    per_call = []
    with torch.inference_mode():
        for _ in range(200):
            model(x)
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                model(x)
            per_call.append((time.perf_counter() - start) / calls)
    emit({"workload": "w4", "median_seconds": statistics.median(per_call), "min_seconds": min(per_call)})


if __name__ == "__main__":
    torch.set_num_threads(arg("threads", 1, int))
    {"w1": w1, "w3": w3, "w4": w4, "w7": w7}[sys.argv[1]]()
