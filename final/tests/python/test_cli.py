"""The AWS CLI smoke script (tests/cli/smoke.sh), run against the same server
so one pytest run covers boto3 and the CLI."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parent.parent / "cli" / "smoke.sh"
# The script makes about twenty CLI calls of roughly half a second each.
SMOKE_TIMEOUT_S = 180


def _aws_cli():
    """The CLI installed beside this interpreter (the suite's venv), else PATH's."""
    beside = Path(sys.executable).parent / "aws"
    return str(beside) if beside.exists() else shutil.which("aws")


def test_cli_smoke(endpoint):
    cli = _aws_cli()
    if cli is None:
        pytest.skip("the AWS CLI is not installed (pip install -r requirements.txt)")
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("the smoke script needs bash")
    result = subprocess.run(
        [bash, str(SMOKE), endpoint],
        env={**os.environ, "AWS": cli, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
    )
    assert result.returncode == 0, f"smoke.sh failed:\n{result.stdout}\n{result.stderr}"
    assert "ok 1 - " in result.stdout
