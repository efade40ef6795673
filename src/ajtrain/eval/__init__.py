"""The evaluation stage: the held-out ``shutdown_targets`` benchmark and ``toucan_calls``
accuracy, against a model directory, an OpenAI-compatible endpoint or a scripted policy."""

from .report import compare
from .runner import EvalConfig, evaluate

__all__ = ["EvalConfig", "compare", "evaluate"]
