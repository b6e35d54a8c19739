"""What a run needs before it measures anything: Debian packages, the Python venv (pymongo for
the MongoDB baseline, kafka-python to delete topics and read consumer group progress), the
services of `scripts/services`, and the release binaries. Each step installs what is missing
and fails with a message that says what to do when it cannot."""

import fcntl
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .measure import BenchError, say

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LOGSPHERE_CACHE_DIR", Path.home() / ".cache/logsphere")).expanduser()
VENV = CACHE / "bench-venv"
REQUIREMENTS = ("pymongo==4.10.1", "kafka-python==2.2.15")
SERVICES = REPO / "scripts/services"


def _quiet_run(argv, what, *, capture=False, **kwargs):
    """Runs a setup command, its output to stderr unless captured; a failure is a `BenchError`
    naming `what`."""
    result = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE if capture else sys.stderr,
                            stderr=subprocess.PIPE, text=True, **kwargs)
    if result.returncode != 0:
        detail = " / ".join(result.stderr.strip().splitlines()[-3:])
        raise BenchError(f"{what} failed ({detail or 'exit ' + str(result.returncode)})")
    return result


def reexec_in_venv(argv):
    """Continues this command under the venv's Python, creating the venv first (once, under a
    lock, so that parallel runs do not build it twice)."""
    python = VENV / "bin/python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp = VENV / ".requirements"
    with open(CACHE / "bench-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != "\n".join(REQUIREMENTS):
            say(f"creating {VENV} with {', '.join(REQUIREMENTS)}")
            shutil.rmtree(VENV, ignore_errors=True)
            _quiet_run([sys.executable, "-m", "venv", VENV],
                       "creating a venv (on Debian: apt-get install python3-venv)")
            _quiet_run([python, "-m", "pip", "install", "-q", *REQUIREMENTS],
                       f"pip install {' '.join(REQUIREMENTS)} into {VENV}")
            stamp.write_text("\n".join(REQUIREMENTS))
    os.execv(python, [str(python), sys.argv[0], *argv])


def need_commands(commands):
    """Installs the Debian package of each missing command ({command or path: package})."""
    missing = sorted({package for command, package in commands.items()
                      if not (shutil.which(command) or Path(command).exists())})
    if not missing:
        return
    hint = f"apt-get install {' '.join(missing)}"
    if not shutil.which("apt-get"):
        raise BenchError(f"missing {', '.join(missing)} and no apt-get here: install them, then retry")
    if os.geteuid() != 0:
        raise BenchError(f"missing {', '.join(missing)}: run as root or `{hint}`, then retry")
    say(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _quiet_run(["apt-get", "update", "-q"], "apt-get update", env=env)
    _quiet_run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], hint, env=env)


def services_up(names):
    """Starts the named services (idempotent) and takes their variables into our environment.
    `LOGSPHERE_SERVICES_DIR` chooses the instance, as for the tests."""
    if not names:
        return
    _quiet_run([SERVICES, "up", *names], f"scripts/services up {' '.join(names)}")
    env = _quiet_run([SERVICES, "env"], "scripts/services env", capture=True).stdout
    for line in env.splitlines():
        for word in shlex.split(line)[1:]:  # export NAME=VALUE
            name, _, value = word.partition("=")
            os.environ[name] = value


def service_pids(name):
    """The PIDs of a running service (the broker, mongod, the NameNode and DataNode)."""
    status = subprocess.run([SERVICES, "status"], capture_output=True, text=True).stdout
    for line in status.splitlines():
        words = line.split()
        if words[:2] == [name, "running"] and "pid" in words:
            return [int(pid) for pid in words[words.index("pid") + 1].split(",")]
    raise BenchError(f"service {name} is not running: scripts/services up {name}")


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def build(benches):
    """Builds the release binaries (and the bench binaries) through lcargo when it is there, so
    that builds on a shared machine take turns. Returns the directory of the binaries."""
    cargo = shutil.which("lcargo") or shutil.which("cargo")
    if not cargo:
        raise BenchError("cargo is missing: install Rust (https://rustup.rs), then retry")
    say("building the release binaries")
    _quiet_run([cargo, "build", "--release", "--bins"], "cargo build --release", cwd=REPO)
    if benches:
        _quiet_run([cargo, "bench", "--no-run", *benches], "cargo bench --no-run", cwd=REPO)
    return target_dir() / "release"


def git_describe():
    """Commit, branch, and whether the working tree differs from it (BENCHMARKS.md aside)."""
    def git(*args):
        return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md")
    return git("rev-parse", "--short", "HEAD"), git("rev-parse", "--abbrev-ref", "HEAD"), bool(dirty)
