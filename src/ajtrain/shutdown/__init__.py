"""The shutdown_target_selection task: scenarios, the simulated user, the expert policy, the
checker, the generator and the held-out benchmark — side by side, as one environment."""

from .checker import RULES, Verdict, Violation, check_record, check_transcript
from .episode import Episode, run_episode
from .policies import Cautious, Expert, Naive, scripted_policy
from .scenario import CANONICAL_COUNTS, CATEGORIES, Intent, Reference, Scenario

__all__ = [
    "CANONICAL_COUNTS",
    "CATEGORIES",
    "RULES",
    "Cautious",
    "Episode",
    "Expert",
    "Intent",
    "Naive",
    "Reference",
    "Scenario",
    "Verdict",
    "Violation",
    "check_record",
    "check_transcript",
    "run_episode",
    "scripted_policy",
]
