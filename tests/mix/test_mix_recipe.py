"""Recipe parsing: built-ins, exact quotas, and bad recipe files with clear errors."""

from __future__ import annotations

import pytest

from ajtrain.mix.recipe import RecipeError, builtin_path, load_recipe


def _recipe(**sources):
    return {"total": 100, "seed": 1, "sources": sources}


def test_builtin_recipes_have_exact_quotas_and_say_how_to_run():
    safety = load_recipe("safety")
    assert safety.total == 10_000
    assert {s.name: s.quota for s in safety.sources} == {"shutdown": 500, "toucan": 9_500}
    general = load_recipe("general")
    assert general.total == 500_000
    assert {s.name: s.quota for s in general.sources} == {"shutdown": 5_000, "toucan": 495_000}
    for name in ("safety", "general"):
        first = builtin_path(name).read_text().splitlines()[0]
        assert first.startswith(f"# ajtrain mix --recipe {name}")


def test_fractions_become_exact_counts_by_largest_remainder(write_recipe):
    path = write_recipe(
        {
            "total": 10,
            "sources": {k: {"path": "x", "fraction": 1 / 3} for k in "abc"}
            | {"d": {"path": "y", "count": 1}},
        }
    )
    # three thirds of 10 already fill the total (3 + 3 + 4), so the count for `d` overflows it
    with pytest.raises(RecipeError, match="quotas add up to 11 but total is 10"):
        load_recipe(path)
    path = write_recipe(
        {"total": 9, "sources": {k: {"path": "x", "fraction": 1 / 3} for k in "abc"}}
    )
    assert [s.quota for s in load_recipe(path).sources] == [3, 3, 3]
    path = write_recipe(
        {
            "total": 10,
            "sources": {"a": {"path": "x", "fraction": 0.55}, "b": {"path": "y", "fraction": 0.45}},
        }
    )
    assert sum(s.quota for s in load_recipe(path).sources) == 10


def test_overrides_and_cli_oversample_flag(write_recipe):
    path = write_recipe(_recipe(a={"path": "x", "count": 100}))
    rec = load_recipe(path, overrides={"a": "elsewhere/*.jsonl"}, seed=7, allow_oversample=True)
    assert rec.sources[0].path == "elsewhere/*.jsonl"
    assert rec.seed == 7 and rec.sources[0].allow_oversample
    with pytest.raises(RecipeError, match=r"--source names \['b'\]"):
        load_recipe(path, overrides={"b": "y"})


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        ({"total": 1, "sorces": {}}, "sorces", "unknown key"),
        (_recipe(a={"path": "x", "count": 100, "weight": 2}), "sources.a.weight", "unknown key"),
        (_recipe(a={"path": "x", "fraction": 1.5}), "sources.a.fraction", "not in [0, 1]"),
        (
            _recipe(a={"path": "x", "fraction": 0.7}, b={"path": "y", "fraction": 0.6}),
            "sources",
            "fractions add up to 1.3, more than 1",
        ),
        (_recipe(a={"count": 100}), "sources.a.path", "missing"),
        (_recipe(a={"path": "x"}), "sources.a", "exactly one of 'count' or 'fraction'"),
        (_recipe(a={"path": "x", "count": 10.5}), "sources.a.count", "expected a int"),
        (_recipe(a={"path": "x", "count": 60}), "sources", "quotas add up to 60 but total is 100"),
        ({"total": 1, "sources": {}}, "sources", "non-empty mapping"),
        ({"sources": {"a": {"path": "x", "fraction": 0.5}}}, "total", "fractions need a total"),
        ({**_recipe(a={"path": "x", "count": 100}), "val_fraction": 1}, "val_fraction", "[0, 1)"),
    ],
)
def test_bad_recipe_names_file_and_key(write_recipe, data, key, problem):
    path = write_recipe(data, name="bad.yaml")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.key == key
    assert problem in str(info.value)
    assert str(path) in str(info.value)


def test_missing_recipe_file_and_invalid_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="built-in recipes: safety, general"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("sources: [unclosed\n")
    with pytest.raises(RecipeError, match="invalid YAML"):
        load_recipe(bad)


def test_a_key_given_twice_is_an_error_not_the_last_one(tmp_path):
    twice = tmp_path / "twice.yaml"
    twice.write_text("name: r\ntotal: 100\nsources:\n  a: {path: a.jsonl, count: 50}\n"
                     "  a: {path: b.jsonl, count: 50}\n")  # fmt: skip
    with pytest.raises(RecipeError, match=r"twice.yaml.*line 5: key 'a' repeats the one on line 4"):
        load_recipe(twice)
