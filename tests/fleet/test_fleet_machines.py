"""load_fleet on bad files: each error names the file, the machine and what is wrong."""

from __future__ import annotations

import pytest

from ajtrain.fleet import FleetError, load_fleet
from ajtrain.shutdown.canonical import example_fleet_path


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
