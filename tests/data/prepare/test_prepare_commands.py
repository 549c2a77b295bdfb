"""The typed command functions parse as CLI subcommands (jsonargparse, as `handprior prepare` wires them)."""

import pytest
from jsonargparse import CLI
from official_fixtures import write_hanco

from handprior.data.prepare.commands import PREPARE_COMMANDS
from handprior.data.store import SequenceStore


@pytest.mark.parametrize("name", sorted(PREPARE_COMMANDS))
def test_every_command_has_help_text(name, capsys):
    with pytest.raises(SystemExit) as info:
        CLI(PREPARE_COMMANDS, args=[name, "--help"], as_positional=True)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--out" in out or "--output" in out
    assert "(required" in out and "Args:" not in out  # docstring sections became per-option help


def test_cli_arguments_reach_the_preparer(tmp_path):
    write_hanco(tmp_path / "hanco", lengths=(5, 5, 5))
    args = ["hanco", "--root", str(tmp_path / "hanco"), "--out", str(tmp_path / "out"), "--cameras", "[0,3]",
            "--train_sequences", "2", "--test_sequences", "1", "--with_mano", "false", "--progress", "false"]  # fmt: skip
    summary = CLI(PREPARE_COMMANDS, args=args, as_positional=True)
    assert summary["splits"]["train"]["sequences"] == 4
    store = SequenceStore.open(tmp_path / "out" / "test")
    assert store.meta["names"] == ["0002/cam0", "0002/cam3"] and not store.has_mano
