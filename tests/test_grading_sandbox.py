"""Real sandboxes running small snippets: what the student's code cannot see, reach, exhaust or outlive."""

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adamcourse.grading import sandbox

ROOT = Path(__file__).resolve().parents[1]
LIMITS = dict(scratch_mb=8, memory_bytes=2 * 2**30, cpu_seconds=30, max_processes=32, file_bytes=4 * 2**20)


@pytest.fixture(scope="module", autouse=True)
def bwrap():
    if sandbox.available() is None:
        message = "bubblewrap cannot start a sandbox here: install Debian's `bubblewrap` package"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs it in CI)")
        pytest.skip(message)


def run(code, pass_fds=(), **kw):
    """Run ``code`` in a sandbox; returns (exit status, the JSON it printed last or None, stderr)."""
    cmd = sandbox.sandbox_command([sys.executable, "-c", code], **{**LIMITS, **kw})
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, pass_fds=pass_fds)
    lines = proc.stdout.strip().splitlines()
    return proc.returncode, json.loads(lines[-1]) if lines else None, proc.stderr


def test_only_the_environment_is_visible(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden")
    code = f"""
import json, os, sys, numpy, adamcourse
def read(p):
    try: return open(p).read()
    except OSError as e: return type(e).__name__
def ls(p):
    try: return sorted(os.listdir(p))
    except OSError as e: return type(e).__name__
print(json.dumps({{"uid": os.getuid(), "package": adamcourse.__file__, "repo": ls({str(ROOT)!r}),
    "readme": read({str(ROOT / "README.md")!r}), "secret": read({str(secret)!r}), "tmp": ls({str(tmp_path)!r}),
    "env": sorted(os.environ), "cwd": os.getcwd(), "host": os.uname().nodename}}))
"""
    rc, out, err = run(code, env={"EXTRA": "1"})
    assert rc == 0, err
    assert out["uid"] != 0 and out["package"] == f"{sandbox.SANDBOX_LIB}/adamcourse/__init__.py"
    assert set(out["repo"]) <= {".venv"} if isinstance(out["repo"], list) else out["repo"] == "FileNotFoundError"
    assert out["readme"] == "FileNotFoundError" and out["secret"] == "FileNotFoundError"
    assert "ADAMCOURSE_QUICK" not in out["env"] and "EXTRA" in out["env"] and out["cwd"] == sandbox.SCRATCH
    assert out["host"] == "sandbox"


def test_proc_shows_only_the_sandbox():
    code = """
import json, os
pids = [p for p in os.listdir("/proc") if p.isdigit()]
print(json.dumps([open(f"/proc/{p}/cmdline", "rb").read().decode(errors="replace") for p in pids]))
"""
    rc, cmdlines, err = run(code)
    assert rc == 0, err
    assert 1 <= len(cmdlines) <= 4 and not any("pytest" in c for c in cmdlines), cmdlines


def test_no_network():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.5)
        code = f"""
import json, socket
try:
    socket.create_connection(("127.0.0.1", {server.getsockname()[1]}), timeout=2); print(json.dumps("connected"))
except OSError as e: print(json.dumps(type(e).__name__))
"""
        rc, out, err = run(code)
        assert rc == 0, err
        assert out != "connected"
        with pytest.raises(TimeoutError):
            server.accept()


def test_scratch_size_and_file_size_limits():
    code = """
import errno, json
def write(path, mb):
    try:
        with open(path, "wb") as f:
            for _ in range(mb): f.write(b"x" * 2**20)
        return "ok"
    except OSError as e: return errno.errorcode[e.errno]
print(json.dumps([write("/tmp/a", 3), write("/tmp/b", 6), write("/tmp/c", 5), write("/dev/shm/d", 1)]))
"""
    rc, out, err = run(code, scratch_mb=8, file_bytes=4 * 2**20)
    assert rc == 0, err
    assert out == ["ok", "EFBIG", "ENOSPC", "EACCES"]  # 3 MB fits; 6 MB > file size limit; 3 + 4 + 5 > 8 MB


def test_environment_is_read_only():
    code = f"""
import errno, json, os, site, adamcourse
out = []
for d in [site.getsitepackages()[0], os.path.dirname(adamcourse.__file__), os.path.dirname(os.__file__)]:
    try: open(os.path.join(d, "planted.py"), "w"); out.append("written")
    except OSError as e: out.append(errno.errorcode[e.errno])
mounts = open("/proc/self/mountinfo").read().splitlines()
out.append([m.split()[5].split(",")[0] for m in mounts if m.split()[4] == "{sandbox.SANDBOX_LIB}/adamcourse"])
print(json.dumps(out))
"""
    rc, out, err = run(code)
    assert rc == 0, err
    assert all(r in ("EROFS", "EACCES") for r in out[:3]) and out[3] and set(out[3]) == {"ro"}


def test_memory_limit():
    rc, out, err = run("import json\ntry: b = bytearray(2**30); print(json.dumps('allocated'))\n"
                       "except MemoryError: print(json.dumps('MemoryError'))", memory_bytes=512 * 2**20)
    assert rc == 0, err
    assert out == "MemoryError"


def test_cpu_limit_kills_even_when_sigxcpu_is_ignored():
    start = time.perf_counter()
    rc, _, _ = run("import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass", cpu_seconds=1)
    assert rc != 0 and time.perf_counter() - start < 30


FORK_BOMB = """
import json, os, time
n = 0
try:
    while n < 500:
        if os.fork() == 0:
            time.sleep(60); os._exit(0)
        n += 1
except OSError as e:
    print(json.dumps([n, e.errno]), flush=True)
"""


def test_fork_bomb_hits_its_own_limit_not_another_jobs():
    cmd = sandbox.sandbox_command([sys.executable, "-c", FORK_BOMB + "time.sleep(60)"], uid_offset=1,
                                  **{**LIMITS, "max_processes": 20})
    bomb = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        n, err = json.loads(bomb.stdout.readline())
        assert n < 20 and err == 11  # EAGAIN
        rc, out, stderr = run(FORK_BOMB, uid_offset=2, max_processes=20)  # a neighbour, while the bomb holds
        assert rc == 0, stderr
        assert out[0] == n and out[1] == 11  # the same budget as the bomb had, not what the bomb left over
    finally:
        sandbox.kill(bomb)


DAEMON = """
import os, sys, time
fd = int(sys.argv[1])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(fd, b"daemon\\n"); time.sleep(600); os._exit(0)
    os._exit(0)
os.close(fd)
time.sleep(float(sys.argv[2]))
"""


@pytest.mark.parametrize("main_sleeps", [600, 0])
def test_setsid_daemon_dies_with_the_sandbox(main_sleeps):
    r, w = os.pipe()
    cmd = sandbox.sandbox_command([sys.executable, "-c", DAEMON, str(w), str(main_sleeps)], **LIMITS)
    proc = subprocess.Popen(cmd, pass_fds=(w,))
    os.close(w)
    try:
        with os.fdopen(r, "rb") as pipe:
            assert pipe.readline() == b"daemon\n"
            if main_sleeps:
                sandbox.kill(proc)
            # end of file: no process in the sandbox holds the pipe's write end any more
            assert select.select([pipe], [], [], 10)[0] and pipe.read() == b""
    finally:
        sandbox.kill(proc)
    if os.geteuid() == 0:  # and, a moment later, no process of the sandbox's uid is left at all
        deadline = time.monotonic() + 10
        while (left := [p for p in os.listdir("/proc") if p.isdigit() and _real_uid(p) == str(sandbox.BASE_UID)]) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left


def _real_uid(pid):
    try:
        return next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("Uid:"))
    except OSError:
        return None


def test_pipes_by_fd_both_ways():
    to_child, from_parent = os.pipe()
    to_parent, from_child = os.pipe()
    code = ("import os, sys\nr, w = int(sys.argv[1]), int(sys.argv[2])\n"
            "os.write(w, os.read(r, 100).upper())")
    cmd = sandbox.sandbox_command([sys.executable, "-c", code, str(to_child), str(from_child)], **LIMITS)
    proc = subprocess.Popen(cmd, pass_fds=(to_child, from_child))
    os.close(to_child)
    os.close(from_child)
    os.write(from_parent, b"ping")
    os.close(from_parent)
    with os.fdopen(to_parent, "rb") as pipe:
        assert pipe.read() == b"PING"
    assert proc.wait(60) == 0


def test_unsafe_mode_limits_and_session(tmp_path):
    code = ("import json, os, resource\nprint(json.dumps([os.getsid(0) == os.getpid(), os.getcwd(), "
            "resource.getrlimit(resource.RLIMIT_FSIZE)[0], 'EXTRA' in os.environ, 'ADAMCOURSE_QUICK' in os.environ]))")
    cmd = sandbox.unsafe_command([sys.executable, "-c", code], workdir=tmp_path, env={"EXTRA": "1"},
                                 **{k: v for k, v in LIMITS.items() if k != "scratch_mb"})
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [True, str(tmp_path.resolve()), LIMITS["file_bytes"], True, False]
    assert set(sandbox.GUARANTEES) == {"sandbox", "unsafe"} and "NOT SANDBOXED" in sandbox.GUARANTEES["unsafe"]


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="memory_bytes"):
        sandbox.sandbox_command(["true"], **{**LIMITS, "memory_bytes": 0})
    with pytest.raises(ValueError, match="uid_offset"):
        sandbox.sandbox_command(["true"], uid_offset=-1, **LIMITS)
