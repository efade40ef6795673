"""--max-in-flight bounds how many episodes run at once without changing any episode."""

from __future__ import annotations

from ajtrain.eval.backends import ScriptedBackend
from ajtrain.eval.runner import run_episodes
from ajtrain.shutdown.benchmark import build_benchmark


class Counting(ScriptedBackend):
    def __init__(self, name: str):
        super().__init__(name)
        self.widest = 0
        self.released: list[str] = []

    def complete(self, requests):
        self.widest = max(self.widest, len(requests))
        return super().complete(requests)

    def release(self, key: str) -> None:
        self.released.append(key)


def test_a_cap_on_episodes_in_flight_changes_no_episode():
    scenarios = build_benchmark()[:40]
    free, capped = Counting("oracle"), Counting("oracle")
    all_at_once = run_episodes(scenarios, free, guard=True, progress=False)
    five = run_episodes(scenarios, capped, guard=True, progress=False, max_in_flight=5)
    assert free.widest == 40 and capped.widest == 5
    assert [r.episode.messages for r in five] == [r.episode.messages for r in all_at_once]
    assert sorted(capped.released) == sorted(free.released) and len(capped.released) == 40


def test_the_log_counts_only_finished_episodes_as_done(monkeypatch):
    import io

    from rich.console import Console

    from ajtrain.eval import runner

    log = io.StringIO()
    monkeypatch.setattr(runner, "err", Console(file=log, force_terminal=False, width=200))
    run_episodes(build_benchmark()[:12], Counting("oracle"), progress=True, max_in_flight=4)
    done = [int(line.split()[3].split("/")[0]) for line in log.getvalue().splitlines()
            if line.startswith("eval: round")]  # fmt: skip
    assert done[0] == 0 and done[-1] == 12 and done == sorted(done)  # 8 waiting are not done
