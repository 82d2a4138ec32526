"""The README cannot drift from the CLI: its command reference is each command's `--help`."""

from readme_reference import README, current_section, reference


def test_readme_command_reference_matches_help():
    section = current_section(README.read_text(encoding="utf-8"))
    assert section, "README.md lacks the command-reference markers"
    assert section == reference(), "README command reference is stale: run `python tests/readme_reference.py --write`"


def test_quickstart_has_exactly_the_two_make_commands():
    text = README.read_text(encoding="utf-8")
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in quickstart.splitlines() if line.strip().startswith("make ")]
    assert commands == ["make demo", "make test"]
