"""The command line as a user runs it: real processes, real exit codes."""

import subprocess
import sys

import pytest

from vivit_desktop.model import create_model, save_model


def run(*args):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", *args], capture_output=True, text=True,
                          timeout=120)


def test_version_and_help():
    from vivit_desktop import __version__

    assert run("--version").stdout.strip() == f"vivit-desktop {__version__}"
    assert "models" in run("--help").stdout


def test_models_stats_prints_the_papers_table_with_our_figures():
    done = run("models", "--stats", "vivit_b16x2_*")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("vivit_b16x2_")}
    assert set(rows) == {"vivit_b16x2_st", "vivit_b16x2_fe", "vivit_b16x2_fsa", "vivit_b16x2_fdp"}
    for name, (params, gflops) in {"vivit_b16x2_st": (88.9, 455.2), "vivit_b16x2_fe": (115.1, 284.4),
                                   "vivit_b16x2_fsa": (117.3, 372.3), "vivit_b16x2_fdp": (88.9, 277.1)}.items():
        cells = rows[name].split()
        ours_params, ours_gflops = float(cells[3]), float(cells[4])
        assert ours_params == pytest.approx(params, rel=0.02) and ours_gflops == pytest.approx(gflops, rel=0.02)
        assert f"{params:.1f}" in rows[name] and f"{gflops:.1f}" in rows[name]


def test_models_stats_takes_overrides_and_any_name():
    done = run("models", "--stats", "vivit_t16x2_fe", "--frames", "16", "--image-size", "112")
    assert done.returncode == 0 and "16x112²" in done.stdout


def test_models_lists_architectures_and_checkpoints(tmp_path):
    model = create_model("vivit_t16x2_fdp", num_frames=4, image_size=32, num_classes=3)
    save_model(model, tmp_path / "mine")
    (tmp_path / "broken.json").write_text("{}")
    (tmp_path / "broken.safetensors").write_bytes(b"x")
    done = subprocess.run([sys.executable, "-m", "vivit_desktop", "models"], capture_output=True, text=True,
                          env={**__import__("os").environ, "VIVIT_DESKTOP_MODELS": str(tmp_path)})
    assert done.returncode == 0
    assert "vivit_b16x2_fe" in done.stdout and "Model 2: factorised encoder" in done.stdout
    assert "mine" in done.stdout and "Model 4" in done.stdout
    assert "broken.safetensors: unusable" in done.stdout


def test_stats_of_a_checkpoint_and_info(tmp_path):
    model = create_model("vivit_t16x2_fsa", num_frames=4, image_size=32, num_classes=3)
    weights, _ = save_model(model, tmp_path / "mine")
    done = run("models", "--stats", str(weights))
    assert done.returncode == 0 and "factorised_self_attention" in done.stdout
    info = run("info", str(weights))
    assert info.returncode == 0 and '"variant": "factorised_self_attention"' in info.stdout


@pytest.mark.parametrize("args, message", [
    (("models", "vivit_nope"), "no architecture matches 'vivit_nope'"),
    (("info", "/nonexistent/x.safetensors"), "the model card is missing"),
    (("import", "/nonexistent"), "no such file or folder"),
])
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(args, message):
    done = run(*args)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr


def test_no_sub_command_means_the_window_and_sub_commands_stay_headless():
    from vivit_desktop.cli import wants_gui

    assert wants_gui([]) and wants_gui(["video.mp4"]) and wants_gui(["--model", "camera-motion-fe", "0"])
    assert wants_gui(["-v", "video.mp4"])
    assert not wants_gui(["analyze", "video.mp4"]) and not wants_gui(["--help"]) and not wants_gui(["-v", "models"])
    done = run("--help-commands")
    assert done.returncode == 0 and "analyze" in done.stdout and "train" in done.stdout


@pytest.mark.parametrize("word, hint", [("analyse", "did you mean `vivit-desktop analyze`?"),
                                        ("frobnicate", "the commands are: models")])
def test_a_mistyped_command_is_not_opened_as_a_video(word, hint):
    done = run(word, "clip.mp4")
    assert done.returncode == 2 and f"unknown command {word!r}" in done.stderr and hint in done.stderr


def test_the_window_refuses_a_model_name_that_names_nothing():
    """It used to open with the default model and no word about it."""
    done = run("--model", "no-such-model")
    assert done.returncode == 2 and "no model named 'no-such-model'" in done.stderr


def test_a_domain_error_is_one_line_without_a_traceback_even_with_v(monkeypatch, capsys):
    """Any VivitError (here one that is neither a ValueError nor an OSError) is the user's to fix."""
    from vivit_desktop import cli
    from vivit_desktop.errors import VivitError
    from vivit_desktop.model import checkpoint

    def broken(path):
        raise VivitError("the card says 0 frames;\n  fix its num_frames")

    monkeypatch.setattr(checkpoint, "checkpoint_files", broken)
    assert cli.main(["-v", "info", "x.safetensors"]) == 1
    err = capsys.readouterr().err
    assert err == "vivit-desktop info: error: the card says 0 frames; fix its num_frames\n"


def test_a_cancelled_command_exits_as_an_interrupted_one(monkeypatch, capsys):
    from vivit_desktop import cli
    from vivit_desktop.cancel import CancelToken
    from vivit_desktop.model import checkpoint

    token = CancelToken()
    token.cancel()
    monkeypatch.setattr(checkpoint, "checkpoint_files", lambda path: token.raise_if_cancelled("stopped"))
    assert cli.main(["info", "x.safetensors"]) == 130
    assert capsys.readouterr().err == "vivit-desktop info: error: stopped\n"


def test_a_bug_is_one_line_and_its_traceback_with_v(monkeypatch, capsys):
    from vivit_desktop import cli
    from vivit_desktop.model import checkpoint

    def bug(path):
        return 1 / 0

    monkeypatch.setattr(checkpoint, "checkpoint_files", bug)
    assert cli.main(["info", "x.safetensors"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected error (ZeroDivisionError: division by zero)" in err
    assert "this is a bug: run again with -v for the traceback" in err and "Traceback" not in err
    code = ("import sys\nfrom vivit_desktop.cli import main\nfrom vivit_desktop.model import checkpoint\n"
            "checkpoint.checkpoint_files = lambda path: 1 / 0\nsys.exit(main(['-v', 'info', 'x.safetensors']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback (most recent call last)" in done.stderr
    assert "ZeroDivisionError: division by zero" in done.stderr and "cli/info.py" in done.stderr


def test_every_command_has_its_module_and_the_entry_points_keep_working():
    from vivit_desktop import cli

    assert set(cli.COMMANDS) == {"models", "import", "info", "analyze", "live", "train", "evaluate", "generate", "zoo"}
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["vivit-desktop"] == "vivit_desktop.cli:main" and callable(cli.main)
    assert run("zoo", "get", "--help").returncode == 0  # python -m vivit_desktop, a nested sub-command
