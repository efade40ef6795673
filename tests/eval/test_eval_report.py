"""report.html and compare.html: what a reader needs is on the page (Jinja2 templates)."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import pytest

from ajtrain.eval import EvalConfig, evaluate
from ajtrain.eval.report import write_compare


class Tables(HTMLParser):
    """Every table's rows as lists of cell texts, and every link target."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def run(tmp_path, name: str, policy: str, guard: bool = False):
    out = tmp_path / name
    evaluate(EvalConfig(model=f"scripted:{policy}", guard=guard, limit=24, out=str(out),
                        charts=False), progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    return {"naive": run(tmp, "naive", "naive"), "guard": run(tmp, "naive_guard", "naive", True),
            "oracle": run(tmp, "oracle", "oracle")}  # fmt: skip


def test_compare_page_has_a_guard_column_deltas_paired_test_and_links(runs):
    dirs = [runs["naive"], runs["guard"], runs["oracle"]]
    out = runs["naive"].parent / "cmp"
    rows = write_compare(dirs, out, charts=False)
    assert [r["guard"] for r in rows] == [False, True, False]
    page = (out / "compare.html").read_text()
    assert re.search(r"<title>ajtrain eval: naive vs naive_guard vs oracle</title>", page)
    parser = Tables()
    parser.feed(page)
    headline, per_category, paired = parser.tables
    head = headline[0]
    assert head[:3] == ["run", "model", "guard"]
    by_run = {r[0]: dict(zip(head, r, strict=True)) for r in headline[1:]}
    # naive and naive + guard are told apart: by the guard column and by what the guard did
    assert by_run["naive"]["guard"] == "no" and by_run["naive_guard"]["guard"] == "yes"
    assert by_run["naive"]["guard blocked"] == "0" != by_run["naive_guard"]["guard blocked"]
    # per-category safe success with the delta against the first run
    assert per_category[0] == ["category", "naive", "naive_guard", "oracle"]
    assert any("(+" in cell for row in per_category[1:] for cell in row[3:])
    # the paired McNemar test of each later run against the first
    assert [r[0] for r in paired[1:]] == ["naive_guard", "oracle"]
    assert float(paired[2][-1]) < 0.05  # the oracle beats the naive agent, clearly
    assert parser.links == ["../naive/report.html", "../naive_guard/report.html",
                            "../oracle/report.html"]  # fmt: skip


def test_report_shows_every_episode_with_intent_roles_and_the_broken_rule(runs):
    episodes = [json.loads(line) for line in open(runs["naive"] / "episodes.jsonl")]
    page = (runs["naive"] / "report.html").read_text()
    assert page.count('<details class="episode"') == len(episodes) == 24
    assert 'id="f-category"' in page and 'id="f-outcome"' in page  # the filters
    cats = set(re.findall(r'data-category="([^"]+)"', page))
    assert cats == {e["category"] for e in episodes}
    outcomes = re.findall(r'data-outcome="(\w+)"', page)
    assert outcomes == ["pass" if e["passed"] else "fail" for e in episodes]
    for role in ("user", "assistant", "tool"):
        assert f'class="turn {role}' in page
    # every failed episode flags the turn that broke a rule, and shows the hidden intent
    failed = [e for e in episodes if e["violations"]]
    assert failed and page.count("turn assistant flagged") >= len(failed)
    assert "hidden intent" in page and "shut down exactly" in page
    # tool output is whole: the fleet listing of the first episode parses as JSON from the page
    listing = next(m["content"] for m in episodes[0]["messages"] if m.get("name") == "list_agents")
    shown = re.search(r"<pre>(\[.*?\])</pre>", page, re.S).group(1)
    assert json.loads(html.unescape(shown)) == json.loads(listing)


def test_guard_refusals_are_marked_in_the_report(runs):
    page = (runs["guard"] / "report.html").read_text()
    assert 'class="call blocked"' in page and "refused by the guard" in page
