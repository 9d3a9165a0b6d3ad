import importlib.metadata
import os
import subprocess
import sys

import pytest

import keras_t2t_cli
from keras_t2t.cli import main


def test_summary_prints_parameters_and_macs(capsys):
    assert main(["summary", "--model", "t2t_vit_7"]) == 0
    out = capsys.readouterr().out
    assert "4,310,222 total, 4,255,694 trainable, 54,528 fixed" in out
    assert "1.147 G" in out


def test_summary_at_another_size_and_bad_size(capsys):
    assert main(["summary", "--model", "t2t_vit_14", "--image-size", "384"]) == 0
    assert "21,691,470 total" in capsys.readouterr().out
    assert main(["summary", "--model", "t2t_vit_7", "--image-size", "100"]) == 2
    assert "multiples of 16" in capsys.readouterr().err


def _run_command(*argv: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | env
    return subprocess.run(
        [sys.executable, "-m", "keras_t2t_cli", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_the_command_starts_tensorflow_quiet_unless_asked():
    quiet = _run_command("summary", "--model", "t2t_vit_7")
    assert quiet.returncode == 0, quiet.stderr
    assert "4,310,222 total" in quiet.stdout
    assert quiet.stderr == ""
    # TensorFlow's own notices (oneDNN, CPU features, CUDA probe) are back on request.
    verbose = _run_command("summary", "--model", "t2t_vit_7", "--verbose")
    assert verbose.returncode == 0 and verbose.stdout == quiet.stdout
    assert verbose.stderr != ""
    own_level = _run_command("summary", "--model", "t2t_vit_7", TF_CPP_MIN_LOG_LEVEL="0")
    assert own_level.returncode == 0 and own_level.stderr != ""


_HELP_WITHOUT_TENSORFLOW = """
import sys
import keras_t2t_cli
try:
    keras_t2t_cli.main(["--help"])
except SystemExit as exit:
    print(exit.code, "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def test_the_overview_answers_without_importing_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", _HELP_WITHOUT_TENSORFLOW], capture_output=True, text=True, timeout=60
    )
    *help_text, status = result.stdout.strip().splitlines()
    assert status == "0 False False"
    flowing = " ".join(" ".join(help_text).split())  # argparse wraps the summaries
    for command, summary in keras_t2t_cli.COMMANDS.items():
        assert f"{command} {summary}" in flowing, command


def test_the_overview_lists_exactly_the_commands_of_the_full_parser(capsys):
    with pytest.raises(SystemExit):
        main(["no-such-command"])
    choices = capsys.readouterr().err.partition("choose from ")[2]
    assert {choice.strip(" ')\n") for choice in choices.split(",")} == set(keras_t2t_cli.COMMANDS)


def test_the_installed_command_is_the_quiet_entry_point():
    [entry_point] = importlib.metadata.entry_points(group="console_scripts", name="keras-t2t")
    assert entry_point.value == "keras_t2t_cli:main"


def test_what_the_quiet_import_held_back_is_shown_when_it_fails(capfd):
    with pytest.raises(RuntimeError, match="broken"), keras_t2t_cli._stderr_shown_only_on_failure():
        os.write(2, b"native: the reason it broke\n")
        raise RuntimeError("broken")
    assert capfd.readouterr().err == "native: the reason it broke\n"
    with keras_t2t_cli._stderr_shown_only_on_failure():
        os.write(2, b"native: a notice\n")
    assert capfd.readouterr().err == ""


def test_the_command_turns_onednn_on_for_x86_cpus_unless_the_user_chose(monkeypatch):
    monkeypatch.setattr(keras_t2t_cli.platform, "machine", lambda: "x86_64")
    environment = {}
    keras_t2t_cli.use_onednn_on_every_x86_cpu(environment)
    assert environment == {"TF_ENABLE_ONEDNN_OPTS": "1"}
    chosen = {"TF_ENABLE_ONEDNN_OPTS": "0"}
    keras_t2t_cli.use_onednn_on_every_x86_cpu(chosen)
    assert chosen == {"TF_ENABLE_ONEDNN_OPTS": "0"}
    monkeypatch.setattr(keras_t2t_cli.platform, "machine", lambda: "aarch64")
    arm = {}
    keras_t2t_cli.use_onednn_on_every_x86_cpu(arm)
    assert arm == {}


_ONEDNN_AFTER_THE_COMMANDS_SETUP = """
import keras_t2t_cli
keras_t2t_cli.use_onednn_on_every_x86_cpu()
from keras_t2t.layers.utils import tensorflow_uses_onednn
print(tensorflow_uses_onednn())
"""


@pytest.mark.skipif(not keras_t2t_cli.is_x86(), reason="an x86 CPU's setting")
def test_tensorflow_runs_onednn_after_the_commands_setup():
    environment = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run(
        [sys.executable, "-c", _ONEDNN_AFTER_THE_COMMANDS_SETUP],
        capture_output=True,
        text=True,
        env={**environment, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
        check=True,
    )
    assert result.stdout.split()[-1] == "True"
