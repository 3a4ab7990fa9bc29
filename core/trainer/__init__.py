"""The training loop, its step context, checkpoints and run logging."""

from ..fingerprint import fingerprint
from .config import EarlyStopping, TrainConfig
from .context import StepContext
from .data import InMemorySplits
from .evaluation import evaluate
from .loop import Trainer, total_steps
from .schedules import Schedule

__all__ = [
    "EarlyStopping",
    "InMemorySplits",
    "evaluate",
    "Schedule",
    "StepContext",
    "TrainConfig",
    "Trainer",
    "fingerprint",
    "total_steps",
]
