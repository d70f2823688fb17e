"""Hugging Face Trainer callback: ``Trainer(..., callbacks=[chase.hf.ChaseCallback()])``.

Importable without transformers installed (the class then derives from object); with transformers it is a real
``TrainerCallback``.
"""

from typing import Any, Optional

import chase

try:
    from transformers import TrainerCallback as _Base
except Exception:
    _Base = object

__all__ = ["ChaseCallback"]


class ChaseCallback(_Base):  # type: ignore[misc, valid-type]
    """Reports each optimizer step to chase. Samples per step are taken from the training arguments
    (per-device batch size x gradient accumulation steps) since the Trainer does not hand the batch to callbacks.
    The Trainer calls on_step_end once per optimizer step, after all its accumulated micro-batches."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        samples: Optional[int] = None
        try:
            samples = int(args.per_device_train_batch_size) * int(args.gradient_accumulation_steps)
        except Exception:
            pass
        chase.step(samples)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        chase.flush(chase.FINAL_WAIT_S)
