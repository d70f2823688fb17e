#!/usr/bin/env python3
"""A real PyTorch training loop that reports its steps to chase: the example of docs/run.md.

A small ResNet-style CNN learns a synthetic 10-class image task (no download). On a GPU it trains there; without one
it trains on the CPU, so the example runs anywhere. Launched by torchrun, every rank trains with
DistributedDataParallel and reports its own steps.

    chase run --signal static:400 --policy budget --profile-file cnn.profile.json -- python3 examples/train_cnn.py
    chase run --signal static:400 -- torchrun --nproc_per_node=4 examples/train_cnn.py --steps 2000

The only chase-specific lines are the import and the chase.step() call in the loop.
"""

import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import chase
except ImportError:  # running from a source tree: the package lives in python/
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import chase


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.skip(x))


class SmallResNet(nn.Module):
    def __init__(self, width=32, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.body = nn.Sequential(Block(width, width, 1), Block(width, 2 * width, 2), Block(2 * width, 4 * width, 2))
        self.head = nn.Linear(4 * width, classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.body(self.stem(x)), 1).flatten(1))


def synthetic_batch(batch, size, device, gen):
    """Images whose class is the quadrant with the brightest patch: learnable, so the loss really falls."""
    y = torch.randint(0, 10, (batch,), generator=gen)
    x = torch.randn(batch, 3, size, size, generator=gen) * 0.5
    h = size // 4
    for i in range(batch):
        r, c = divmod(int(y[i]) % 9, 3)
        x[i, :, r * h:(r + 1) * h, c * h:(c + 1) * h] += 1.0 + 0.1 * (int(y[i]) // 9)
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=500, help="optimizer steps (default 500)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    ap.add_argument("--width", type=int, default=32, help="channels of the first stage (default 32)")
    ap.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is there")
    args = ap.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and not args.cpu
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)

    model = SmallResNet(args.width).to(device)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if cuda else None)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(1234 + rank)

    t0 = time.time()
    for step in range(1, args.steps + 1):
        x, y = synthetic_batch(args.batch_size, args.size, device, gen)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        chase.step(samples=args.batch_size)  # one line: tells chase a step is done (a no-op outside chase run)
        if rank == 0 and (step % 100 == 0 or step == args.steps):
            print("step %d/%d loss %.3f (%.1f steps/s)" % (step, args.steps, loss.item(), step / (time.time() - t0)),
                  flush=True)
    chase.flush()
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
