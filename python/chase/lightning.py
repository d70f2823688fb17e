"""PyTorch Lightning callback: ``Trainer(callbacks=[chase.lightning.ChaseCallback()])``.

Importable without Lightning installed (the class then derives from object, so the module can be imported, checked
and tested anywhere); with Lightning it is a real ``Callback``. ``lightning.pytorch`` is preferred over the older
``pytorch_lightning`` package.
"""

import chase

try:
    from lightning.pytorch import Callback as _Base
except Exception:
    try:
        from pytorch_lightning import Callback as _Base
    except Exception:
        _Base = object

__all__ = ["ChaseCallback"]


def _batch_size(batch):
    """Samples in a batch when they can be seen cheaply: a tensor's first dimension, or that of a tuple/dict's first
    tensor; None otherwise."""
    try:
        if isinstance(batch, (list, tuple)) and batch:
            batch = batch[0]
        elif isinstance(batch, dict) and batch:
            batch = next(iter(batch.values()))
        shape = getattr(batch, "shape", None)
        if shape is not None and len(shape) > 0:
            return int(shape[0])
    except Exception:
        pass
    return None


class ChaseCallback(_Base):
    """Reports each optimizer step (each training batch that ends) to chase, with its sample count."""

    def __init__(self, count_samples=True):
        if _Base is not object:
            super().__init__()
        self.count_samples = count_samples

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args, **kwargs):
        chase.step(_batch_size(batch) if self.count_samples else None)

    def on_train_end(self, trainer, pl_module):
        chase.flush()

    def on_exception(self, trainer, pl_module, exception):
        chase.flush()
