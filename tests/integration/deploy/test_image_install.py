"""The image's install step, run for real: what `deploy/Dockerfile` installs is the lock's
runtime set, and the console script works from it.

There is no container engine here, so the test runs the Dockerfile's own ``uv sync`` line
(with the machine's Python in place of the image's) on a copy of what the Dockerfile COPYs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
UV = REPO / ".tools" / "bin" / "uv"


def dockerfile_sync_command() -> list[str]:
    """The ``uv sync ...`` arguments of the Dockerfile's RUN step."""
    text = (REPO / "deploy" / "Dockerfile").read_text()
    match = re.search(r"uv sync ([^\\\n&]+)", text)
    assert match is not None, "the Dockerfile has no uv sync step"
    return shlex.split(match.group(1))


def copied_sources(text: str) -> list[str]:
    """The sources of the Dockerfile's COPY lines."""
    sources: list[str] = []
    for line in re.findall(r"^COPY\s+(.+)\s+\S+$", text, re.MULTILINE):
        sources.extend(line.split())
    return sources


@pytest.mark.timeout(300)
def test_the_image_install_step_gives_the_runtime_set_and_a_working_cli(tmp_path: Path) -> None:
    """The locked, runtime-only, non-editable install starts `processor --help` and leaves the
    dev tools (pytest, mypy) out."""
    if not UV.exists():
        pytest.fail(f"{UV} is missing: run `make venv` (it bootstraps uv)")
    context = tmp_path / "context"
    context.mkdir()
    for source in copied_sources((REPO / "deploy" / "Dockerfile").read_text()):
        path = REPO / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, context / source)
    args = dockerfile_sync_command()
    where = args.index("--python")
    args[where + 1] = shutil.which("python3") or sys.executable
    target = tmp_path / "image-env"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(target), "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([str(UV), "sync", *args], cwd=context, env=env, check=True, timeout=240)
    help_text = subprocess.run(
        [str(target / "bin" / "processor"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "ingress" in help_text
    assert "worker" in help_text
    assert not (target / "bin" / "pytest").exists()
    assert not (target / "bin" / "mypy").exists()
    # Not editable: the package lives in the environment, not in the build context.
    located = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import processor; print(processor.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=60,
    ).stdout.strip()
    assert located.startswith(str(target)), located
