"""The training loop, its step context, checkpoints and run logging."""

from .config import EarlyStopping, TrainConfig
from .schedules import Schedule
from .context import StepContext
from ..fingerprint import fingerprint
from .data import InMemorySplits
from .evaluation import evaluate
from .loop import Trainer, total_steps

__all__ = ["EarlyStopping", "InMemorySplits", "evaluate", "Schedule", "StepContext", "TrainConfig", "Trainer", "fingerprint", "total_steps"]
