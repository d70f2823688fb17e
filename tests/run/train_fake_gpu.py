#!/usr/bin/python3
"""A small CNN trained on synthetic data on the CPU under `chase run`, for the end-to-end tests.

The training is real PyTorch; only the GPU is fake. So that power limits matter to the job as they do on a real
GPU-bound job, each step is stretched to base_s x (knee / min(limit, knee)) ** alpha, with the limit read from the
fake NVML library (CHASE_NVML_LIBRARY, the same shared state chase writes). The fake GPU draws min(limit, knee)
watts (knee = FAKE_NVML_DRAW_W, 235 W by default), so below the knee a lower limit makes the job slower but uses less
energy per step: the trade-off chase works with, shaped like a real GPU's (flat near the top, slower further down).

Usage: train_fake_gpu.py --steps N [--crash-at K] [--world 2] [--base-s 0.03] [--no-report]
                         [--mark-file F --mark-at K]
"""

import argparse
import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("CHASE_SOURCE_DIR", os.path.dirname(__file__) + "/../.."), "python"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import chase  # noqa: E402


class FakeGpuPace:
    """Reads GPU 0's power limit from the fake NVML and says how long a step takes at it."""

    def __init__(self, base_s, alpha=0.4, top_w=300.0):
        self.base_s, self.alpha, self.top_w = base_s, alpha, top_w
        self.knee_w = float(os.environ.get("FAKE_NVML_DRAW_W", "235"))
        self.lib = None
        path = os.environ.get("CHASE_NVML_LIBRARY")
        if not path:
            return
        lib = ctypes.CDLL(path)
        if lib.nvmlInit_v2() != 0:
            return
        self.handle = ctypes.c_void_p()
        if lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(self.handle)) != 0:
            return
        self.lib = lib

    def limit_w(self):
        if self.lib is None:
            return self.top_w
        mw = ctypes.c_uint()
        if self.lib.nvmlDeviceGetPowerManagementLimit(self.handle, ctypes.byref(mw)) != 0:
            return self.top_w
        return mw.value / 1000.0

    def step_s(self):
        return self.base_s * (self.knee_w / min(self.limit_w(), self.knee_w)) ** self.alpha


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(16, 10))

    def forward(self, x):
        return self.body(x)


def train(rank, world, args):
    if world > 1:
        import torch.distributed as dist
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(rank)
    torch.set_num_threads(1)
    model = SmallCNN()
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    pace = FakeGpuPace(args.base_s)
    batch = 16
    x = torch.randn(batch, 3, 16, 16)
    y = torch.randint(0, 10, (batch,))
    for step in range(1, args.steps + 1):
        t0 = time.monotonic()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if step == args.crash_at:
            raise RuntimeError("crashing on purpose at step %d" % step)
        rest = pace.step_s() - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)
        if not args.no_report:
            chase.step(samples=batch)
        if args.mark_file and step == args.mark_at and rank == 0:
            open(args.mark_file, "w").close()
    chase.flush()
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--crash-at", type=int, default=0)
    ap.add_argument("--world", type=int, default=1)
    ap.add_argument("--base-s", type=float, default=0.03)
    ap.add_argument("--port", type=int, default=29511)
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--mark-file", help="create this file after --mark-at steps (tests wait for it)")
    ap.add_argument("--mark-at", type=int, default=20)
    args = ap.parse_args()
    if args.world > 1:
        import torch.multiprocessing as mp
        os.environ["MASTER_PORT"] = str(args.port)
        mp.spawn(train, args=(args.world, args), nprocs=args.world, join=True)
    else:
        train(0, 1, args)


if __name__ == "__main__":
    main()
