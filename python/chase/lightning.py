"""PyTorch Lightning callback: ``Trainer(callbacks=[chase.lightning.ChaseCallback()])``.

Importable without Lightning installed (the class then derives from object, so the module can be imported, checked
and tested anywhere); with Lightning it is a real ``Callback``. ``lightning.pytorch`` is preferred over the older
``pytorch_lightning`` package.
"""

from typing import Any, Optional

import chase

try:
    from lightning.pytorch import Callback as _Base
except Exception:
    try:
        from pytorch_lightning import Callback as _Base
    except Exception:
        _Base = object

__all__ = ["ChaseCallback"]


def _batch_size(batch: Any) -> Optional[int]:
    """Samples in a batch when they can be seen cheaply (chase.batch_size); None otherwise."""
    return chase.batch_size(batch)


class ChaseCallback(_Base):  # type: ignore[misc, valid-type]
    """Reports each optimizer step to chase, with the samples of the batches that went into it.

    Lightning calls on_train_batch_end for every batch; under gradient accumulation (accumulate_grad_batches=k) only
    every k-th one steps the optimizer. The trainer's global_step counts optimizer steps, so a step is reported when
    it advances, carrying the samples of every batch since the last one.
    """

    def __init__(self, count_samples: bool = True) -> None:
        if _Base is not object:
            super().__init__()
        self.count_samples = count_samples
        self._last_global_step: Optional[int] = None
        self._pending_samples: Optional[int] = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._last_global_step = getattr(trainer, "global_step", None)  # a resumed run starts past 0
        self._pending_samples = None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                           *args: Any, **kwargs: Any) -> None:
        if self.count_samples:
            n = _batch_size(batch)
            if n is not None:
                self._pending_samples = (self._pending_samples or 0) + n
        gs = getattr(trainer, "global_step", None)
        if not isinstance(gs, int):  # no trainer to ask: every batch is a step
            chase.step(self._pending_samples)
            self._pending_samples = None
            return
        last = self._last_global_step if self._last_global_step is not None else 0
        if gs <= last:
            return  # an accumulating micro-batch: its samples wait for the optimizer step
        chase.step(self._pending_samples)
        for _ in range(gs - last - 1):  # several optimizer steps since the last batch end: count each
            chase.step(0 if self._pending_samples is not None else None)
        self._last_global_step = gs
        self._pending_samples = None

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        chase.flush(chase.FINAL_WAIT_S)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        chase.flush(chase.FINAL_WAIT_S)
