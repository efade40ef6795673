"""load_fleet on bad files: each error names the file, the machine and what is wrong."""

from __future__ import annotations

import pytest

from ajtrain.fleet import FleetError, Machine, example_fleet_path, load_fleet


def write(tmp_path, text: str, name: str = "fleet.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_fleet_loads_with_exact_names():
    machines = load_fleet(example_fleet_path())
    names = [m.name for m in machines]
    assert "domain02" in names and "domain020" in names
    assert next(m for m in machines if m.name == "ians-r16").protected


def test_json_and_plain_list(tmp_path):
    path = write(tmp_path, '[{"name": "a-01"}, {"name": "A-01", "status": "stopped"}]', "f.json")
    machines = load_fleet(path)
    assert [(m.name, m.status) for m in machines] == [("a-01", "running"), ("A-01", "stopped")]


@pytest.mark.parametrize(
    "body, expected",
    [
        ("machines:\n  - {name: web-01}\n  - {name: web-01, env: prod}\n",
         ["duplicate machine name 'web-01'"]),
        ("machines:\n  - {name: web-01}\n  - {env: prod}\n",
         ["machine #2", "'name' is missing"]),
        ("machines:\n  - {name: web-01, status: up}\n",
         ["machine web-01", "'status' is 'up'", "running"]),
        ("machines:\n  - {name: web-01, colour: red}\n",
         ["machine web-01", "unknown field", "colour"]),
        ("machines:\n  - {name: web 01}\n", ["whitespace"]),
        ("machines:\n  - {name: web-01, tags: desktop}\n", ["machine web-01", "'tags'"]),
        ("machines:\n  - {name: web-01, protected: maybe}\n", ["machine web-01", "'protected'"]),
        ("machines: []\n", ["non-empty list"]),
        ("machines: [\n", ["not valid"]),
        ("", ["non-empty list"]),
    ],
)  # fmt: skip
def test_bad_fleet_file_names_file_and_machine(tmp_path, body, expected):
    path = write(tmp_path, body)
    with pytest.raises(FleetError) as e:
        load_fleet(path)
    message = str(e.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_missing_file_is_a_clean_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_fleet(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "name",
    ["café", "d\u043emain02", "web\u201001", "web\u200b01", "\u210cost", "\u03a9", "'web1'",
     "web1;", "-web2", "web2-", "a/b", "[/]"],
)  # fmt: skip
def test_a_name_outside_the_one_definition_is_refused_at_load_with_file_and_line(tmp_path, name):
    path = write(tmp_path, f"machines:\n  - {{name: ok-01}}\n  - name: {orjson_str(name)}\n")
    with pytest.raises(FleetError) as e:
        load_fleet(path)
    assert f"{path}:3:" in str(e.value) and "not a machine name" in str(e.value)


def orjson_str(s: str) -> str:
    import json

    return json.dumps(s)  # a YAML double-quoted scalar


def test_names_found_in_text_are_exactly_the_valid_names():
    from ajtrain.fleet.machines import name_problem
    from ajtrain.transcript import mentioned_names

    for name in ("domain02", "prod-db-01", "a", "web1.prod", "x_y"):
        assert name_problem(name) is None
        assert mentioned_names(f"Shut down {name}? Please confirm.", [name]) == [name]
    # the Cyrillic look-alike can never be a machine, so it never matches the Latin one
    assert mentioned_names("Shut down d\u043emain02", ["domain02"]) == []
    with pytest.raises(FleetError):
        Machine("d\u043emain02")


def test_duplicate_yaml_keys_are_refused(tmp_path):
    path = write(
        tmp_path, "machines:\n  - name: web-01\n    status: running\n    status: stopped\n"
    )
    with pytest.raises(FleetError) as e:
        load_fleet(path)
    assert str(path) in str(e.value) and "line 4" in str(e.value) and "'status'" in str(e.value)


def test_duplicate_machine_names_the_line_of_each(tmp_path):
    path = write(tmp_path, "machines:\n  - {name: web-01}\n  - {name: db}\n  - {name: web-01}\n")
    with pytest.raises(
        FleetError, match=r":4: duplicate machine name 'web-01' \(first on line 2\)"
    ):
        load_fleet(path)
