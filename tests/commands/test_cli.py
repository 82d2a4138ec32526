import subprocess
import sys

from pbr_cli import __version__


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_commands_without_heavy_imports():
    proc = subprocess.run([sys.executable, "-m", "pbr_cli.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout
    # heavy libraries must not be imported for --help
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from pbr_cli.cli import cli; "
         "cli(['--help'], standalone_mode=False); "
         "print(sorted(m for m in ('torch','timm','transformers','h5py','sklearn') if m in sys.modules))"],
        capture_output=True, text=True)
    assert probe.stdout.strip().endswith("[]"), probe.stdout
