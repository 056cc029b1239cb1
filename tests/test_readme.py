"""The README documents every kind and key, and its examples are valid specs."""

import re
from pathlib import Path

import pytest

from validators.kinds import builtin_kinds
from validators.spec import parse_spec

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", README, flags=re.DOTALL)


def test_readme_starts_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.DOTALL).group(1).strip().splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]


@pytest.mark.parametrize("kind", sorted(builtin_kinds()))
def test_every_kind_and_key_is_documented(kind):
    kinds_section = README.split("## Check kinds", 1)[1]
    row = next((line for line in kinds_section.splitlines() if line.startswith(f"| `{kind}` |")), None)
    assert row is not None, f"kind {kind!r} has no row in the README's kinds table"
    for param in builtin_kinds()[kind].params:
        assert f"`{param.name}`" in row, f"key {param.name!r} of {kind!r} missing from its README row"


def test_check_examples_are_valid_specs():
    examples = [block for block in TOML_BLOCKS if "[[check]]" in block]
    assert len(examples) >= 2
    kinds_seen = set()
    for block in examples:
        spec = parse_spec(block, "README.md")
        kinds_seen |= {c.kind for c in spec.checks}
    assert kinds_seen == set(builtin_kinds()), "every kind has an example in the README"


def test_exit_codes_table_matches_the_enum():
    from validators.exitcodes import ExitCode

    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", README, flags=re.MULTILINE), code
