"""Running the measured processes and reading what they cost.

A measured command runs under GNU `/usr/bin/time`, which reaps it with wait4(2): the user and
system CPU of the command and every descendant it reaped, and the peak RSS of the largest of
them. Not wait4 from here: a child of this (large) Python process starts with Python's peak RSS
as its own, since the kernel carries the peak over exec. Daemons that are stopped rather than
ending (rsyslogd, consumers) run without `time`: their peak RSS is read from /proc (VmHWM, reset
at exec) just before they are stopped, their CPU from wait4. Processes that are not ours (the
broker, mongod, the HDFS daemons) are read from /proc before and after.

Each child gets its own process group, so that stopping it stops whatever it started.

Everything that must be undone (processes, topics, databases, HDFS paths, the work directory)
is pushed on `CLEANUP` when it is made, and `CLEANUP.run()` undoes it in reverse order, also
after an error or an interrupt.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STOP_GRACE_SECONDS = 15
GNU_TIME = "/usr/bin/time"


class BenchError(Exception):
    """A benchmark could not run; the message says what went wrong and what to do."""


def say(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Cost:
    """What one measured run took."""

    wall: float
    user: float
    sys: float
    peak_rss: int  # bytes
    load: float  # 1-minute load average when the run ended

    @property
    def cpu(self):
        return self.user + self.sys


class Cleanup:
    """Undo actions, run newest first."""

    def __init__(self):
        self._actions = []

    def push(self, what, action):
        self._actions.append((what, action))

    def run(self):
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as error:  # one failed cleanup must not skip the others
                say(f"cleanup: could not {what}: {error}")


CLEANUP = Cleanup()


class Proc:
    """A started child process. `wait()` reaps it and returns its `Cost`; if it is still running
    at cleanup it gets SIGTERM, then SIGKILL. A `timed` process runs under `/usr/bin/time`, the
    others must be ended with `stop()` to have their peak RSS."""

    def __init__(self, argv, *, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=None,
                 timed=True):
        self.name = os.path.basename(str(argv[0]))
        self._stderr = tempfile.TemporaryFile()
        self._times = tempfile.NamedTemporaryFile("r", prefix="logsphere-bench-time.") if timed else None
        if timed:
            argv = [GNU_TIME, "-f", "%U %S %M", "-o", self._times.name, *argv]
        self.started = time.monotonic()
        try:
            self.popen = subprocess.Popen([str(a) for a in argv], stdin=stdin, stdout=stdout,
                                          stderr=self._stderr, env=env, start_new_session=True)
        except OSError as error:
            raise BenchError(f"cannot start {argv[0]}: {error}") from error
        self.cost = None
        self._peak_rss = None
        CLEANUP.push(f"stop {self.name} (pid {self.popen.pid})", self.stop)

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        if self.cost is not None:
            return False
        pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self._reaped(status, rusage)
        return False

    def wait(self, check=True):
        """Waits for the process to end; with `check`, a non-zero exit is a `BenchError`."""
        if self.cost is None:
            _, status, rusage = os.wait4(self.pid, 0)
            self._reaped(status, rusage)
        if check and self.popen.returncode != 0:
            raise BenchError(f"{self.name} exited with {self.popen.returncode}: {self.stderr_tail()}")
        return self.cost

    def stop(self, check=False):
        """SIGTERM to its group (the tools drain and exit 0), SIGKILL after a grace period;
        returns the cost."""
        if self.running():
            if self._times is None:
                self._peak_rss = proc_status_kib(self.pid, "VmHWM") * 1024
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.running():
                self._signal(signal.SIGKILL)
        return self.wait(check=check)

    def _signal(self, signum):
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass

    def _reaped(self, status, rusage):
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        user, system, peak_rss = rusage.ru_utime, rusage.ru_stime, self._peak_rss or 0
        if self._times is not None:
            report = self._times.read().split()
            if len(report) >= 3:  # `time` writes nothing when it is killed itself
                user, system, peak_rss = float(report[-3]), float(report[-2]), int(report[-1]) * 1024
            self._times.close()
        self.cost = Cost(
            wall=time.monotonic() - self.started,
            user=user,
            sys=system,
            peak_rss=peak_rss,
            load=os.getloadavg()[0],
        )

    def stderr_tail(self, lines=3):
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip().splitlines()
        return " / ".join(text[-lines:]) or "(no message)"


def run(argv, *, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=None):
    """Runs one command to its end; `stdin` and `stdout` may be paths. Returns its `Cost`."""
    with _opened(stdin, "rb") as source, _opened(stdout, "wb") as sink:
        return Proc(argv, stdin=source, stdout=sink, env=env).wait()


@contextlib.contextmanager
def _opened(target, mode):
    """A path opened for the duration of a run; anything else is passed through."""
    if isinstance(target, (str, os.PathLike)):
        with open(target, mode) as file:
            yield file
    else:
        yield target


def with_wall(cost, wall):
    """The cost with the wall clock of the measured phase instead of the process lifetime."""
    return replace(cost, wall=wall)


def proc_cpu_seconds(pids):
    """User + system CPU seconds so far of processes that are not our children (all threads)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def proc_status_kib(pid, key):
    """A `/proc/PID/status` figure in KiB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {key}")


def wait_until(condition, *, timeout, what, alive=()):
    """Polls `condition` until it holds; fails after `timeout` seconds or when one of the `alive`
    processes ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in alive:
            if not proc.running():
                raise BenchError(f"{proc.name} ended (exit {proc.popen.returncode}) before {what}: "
                                 f"{proc.stderr_tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class LoadSampler:
    """The 1-minute load average, sampled every few seconds for the whole run."""

    def __init__(self, every=5.0):
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)
        self._thread.start()

    def _sample(self, every):
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self):
        self._stop.set()
        self.samples.append(os.getloadavg()[0])
        return min(self.samples), sum(self.samples) / len(self.samples), max(self.samples)
