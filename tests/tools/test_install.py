"""tools/install.py: pip's configuration carried over to uv, and a real install from a local wheel."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "install.py"
_SPEC = importlib.util.spec_from_file_location("glimpse_install_tool", _SCRIPT)
install = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(install)

LISTING = """\
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.extra-index-url='file:///opt/a/simple file:///opt/b/simple'
global.find-links='/opt/old'
install.find-links='/opt/install'
:env:.find-links='/opt/wheels'
:env:.default-timeout='180'
global.trusted-host='mirror.internal'
not a setting line
"""


def test_pip_settings_take_pips_precedence_env_over_install_over_global() -> None:
    settings = install.pip_settings(LISTING)
    assert settings["find-links"] == "/opt/wheels"
    assert settings["extra-index-url"] == "file:///opt/a/simple file:///opt/b/simple"
    assert settings["cert"] == "/etc/ssl/certs/ca-certificates.crt"
    assert "not a setting line" not in " ".join(settings)


def test_uv_arguments_name_every_index_and_pass_cert_and_timeout() -> None:
    args, env = install.uv_arguments(install.pip_settings(LISTING))
    assert args[:2] == ["--index-strategy", "unsafe-best-match"]
    pairs = list(zip(args[2::2], args[3::2], strict=True))
    assert ("--extra-index-url", "file:///opt/a/simple") in pairs
    assert ("--extra-index-url", "file:///opt/b/simple") in pairs
    assert ("--find-links", "/opt/wheels") in pairs
    assert ("--find-links", "/opt/old") not in pairs
    assert ("--allow-insecure-host", "mirror.internal") in pairs
    assert env == {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", "UV_HTTP_TIMEOUT": "180"}


def test_no_index_and_index_url_carry_over() -> None:
    args, _ = install.uv_arguments({"no-index": "true", "index-url": "https://pypi.internal/simple"})
    assert "--no-index" in args
    assert args[args.index("--index-url") + 1] == "https://pypi.internal/simple"


def _wheel(folder: Path, name: str = "glimpse_tiny", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel, written by hand so the test needs no build backend."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": b"ANSWER = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return out


def _install_tiny(tmp_path: Path, uv: Path | None) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the script in a new venv (with ``uv`` beside its python, or none) whose pip is configured with
    only a find-links folder holding the tiny wheel; returns the run and the venv's site-packages."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if uv is not None:
        (venv / "bin" / "uv").symlink_to(uv)
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nno-index = true\nfind-links = {wheels}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = str(config)
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(_SCRIPT), "glimpse_tiny==1.0"], env=env, capture_output=True, text=True
    )
    return done, next((venv / "lib").glob("python3*/site-packages"))


@pytest.mark.slow
def test_installs_with_uv_from_the_find_links_pip_is_configured_with(tmp_path: Path) -> None:
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.skip("uv is not installed in this venv (make setup installs it)")
    done, site = _install_tiny(tmp_path, uv)
    assert done.returncode == 0, done.stderr
    assert "trying pip" not in done.stderr and "not found" not in done.stderr
    assert (site / "glimpse_tiny-1.0.dist-info" / "INSTALLER").read_text().strip() == "uv"
    python = site.parents[2] / "bin" / "python"
    answer = subprocess.run([str(python), "-c", "import glimpse_tiny; print(glimpse_tiny.ANSWER)"], capture_output=True)
    assert answer.stdout.strip() == b"42"


@pytest.mark.slow
def test_falls_back_to_pip_when_uv_is_missing(tmp_path: Path) -> None:
    done, site = _install_tiny(tmp_path, uv=None)
    assert done.returncode == 0, done.stderr
    assert "installing with pip" in done.stderr
    assert (site / "glimpse_tiny-1.0.dist-info" / "INSTALLER").read_text().strip() == "pip"


def test_pip_gets_every_argument_but_uvs_excludes() -> None:
    args = ["-c", "constraints.txt", "--excludes", "deploy/server-excludes.txt", ".[server]", "--excludes=x.txt"]
    assert install.without_excludes(args) == ["-c", "constraints.txt", ".[server]"]
    assert install.without_excludes(["-e", ".[dev]"]) == ["-e", ".[dev]"]
