"""`vivit-desktop --self-test`: what an installer runs to prove the installed program works with
no screen. It passes on a good install and says what is wrong, with exit 1, on a bad one."""

import shutil
import subprocess
import sys

from vivit_desktop import catalog
from vivit_desktop.paths import app_root

from test_engine import make_clip


def self_test(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "vivit_desktop", "--self-test", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def test_self_test_passes_with_a_real_clip_and_names_each_check(tmp_path):
    clip = make_clip(tmp_path / "clip.avi", frames=75, size=(120, 160), fps=25.0)
    done = self_test(clip)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "self-test passed: 7/7 checks"
    checks = [line for line in lines if line.startswith("ok  ")]
    assert len(checks) == 7
    for name in ("camera-motion-st", "camera-motion-fe", "camera-motion-fsa", "camera-motion-fdp"):
        assert any(f"{name}: sample clip: 660 frames" in line for line in checks), name
    assert any("of 11 stretches of camera motion right" in line for line in checks)
    assert any(line.startswith("ok    real clip clip.avi: 75 frames") for line in checks)
    assert any("window (offscreen): offscreen platform" in line and "shows" in line for line in checks)


def test_self_test_fails_on_a_clip_it_cannot_decode_and_on_a_missing_one(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    done = self_test(broken)
    assert done.returncode == 1
    assert "FAIL  real clip broken.mp4" in done.stdout and "FAIL  window (offscreen)" in done.stdout
    assert done.stdout.splitlines()[-1] == "self-test FAILED: 5/7 checks"
    missing = self_test(tmp_path / "nope.mp4")
    assert missing.returncode == 2 and "no such file" in missing.stdout


def test_self_test_fails_when_the_shipped_models_are_damaged(tmp_path):
    """A bundle whose default checkpoint was cut short (a bad download, a full disk)."""
    import os

    root = tmp_path / "copy"  # the program beside its models/ and resources/, as in a bundle
    for part in ("vivit_desktop", "models", "resources"):
        shutil.copytree(app_root() / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    default = catalog.default_model_name()
    weights = root / "models" / f"{default}.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    done = self_test(env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)
    assert done.returncode == 1, done.stdout
    assert f"FAIL  {default}: sample clip" in done.stdout, done.stdout
    assert str(root) in done.stdout.splitlines()[0]  # it was the copy that was checked
