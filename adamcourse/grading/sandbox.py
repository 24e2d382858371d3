"""The student's side runs here: a bubblewrap sandbox per notebook, or, without bubblewrap, a limited process.

``sandbox_command(argv, ...)`` returns the command line that runs ``argv`` (``[sys.executable, "-m", ...]``) in:

- new PID, network (loopback only), IPC, UTS, cgroup and mount namespaces, in a new session, killed with its
  parent (``--die-with-parent``);
- a real unprivileged user: run as root (CI, Gradescope, a container), bubblewrap sets up the mounts as root and
  ``setpriv`` drops to uid ``60000 + uid_offset`` with no capabilities and ``no_new_privs``; a second, unprivileged
  ``bwrap --unshare-user --disable-userns`` then puts it in a user namespace that cannot create more (so it cannot
  mount a tmpfs of its own around the disk limit). Run as another user, one unprivileged bwrap does both;
- a view of ``/usr`` (and ``/bin``, ``/lib*``), a few files of ``/etc``, the interpreter's prefixes and
  site-packages, all read-only, the ``adamcourse`` package alone at ``/sandbox/lib/adamcourse`` (on
  ``PYTHONPATH``; never the repository that holds it), a fresh ``/proc`` of its own PID namespace, a minimal
  ``/dev`` (``/dev/shm`` is not writable), and a private tmpfs of ``scratch_mb`` at ``/tmp`` that is the working
  folder, ``HOME`` and ``TMPDIR``; nothing else of the host (no repository, submissions, reports, other jobs);
- only the environment variables given (``--clearenv``, then ``--setenv``);
- resource limits set by ``prlimit`` before bwrap starts: address space, CPU seconds (SIGXCPU, then SIGKILL one
  second later), processes, file size, open files, no core files.

``RLIMIT_NPROC`` counts the threads of every process of a real uid, so each concurrent job needs its own
``uid_offset`` (one job cannot count against another), and the budget includes bwrap's own process in the
user namespace and every thread of the interpreter (BLAS, torch). Grading as a user other than root, the
limit is that user's current thread count plus ``max_processes``.

Pipes: create them with ``os.pipe()`` in the parent, give the child's ends to ``subprocess.Popen(...,
pass_fds=(r, w))`` and their numbers in ``argv`` (for example ``... child 5 8``); prlimit, setpriv and bwrap
keep inherited descriptors open, with their numbers. Spawn from a thread that outlives the sandbox (Linux
delivers ``--die-with-parent``'s SIGKILL when the spawning thread exits). ``kill(proc)`` ends the whole sandbox:
killing the namespace's PID 1 makes the kernel kill every process in it, ``setsid`` daemons included; they also
die as soon as the sandboxed command exits, for the same reason.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import adamcourse

BASE_UID = 60000                      # sandboxed uid when grading as root: BASE_UID + uid_offset
SANDBOX_LIB = "/sandbox/lib"          # the adamcourse package is mounted at SANDBOX_LIB/adamcourse
SCRATCH = "/tmp"                      # the private tmpfs: working folder, HOME and TMPDIR
PACKAGE = Path(adamcourse.__file__).resolve().parent
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "mime.types", "alternatives")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

GUARANTEES = {
    "sandbox": "sandboxed (bubblewrap): each notebook ran as its own unprivileged user in its own PID, network, "
               "IPC, UTS and mount namespaces, seeing only the Python environment and the adamcourse package "
               "read-only and a private scratch tmpfs, with limits on memory, CPU time, processes, file size and "
               "disk, and killed as a whole PID namespace",
    "unsafe": "NOT SANDBOXED (--unsafe-no-sandbox): each notebook ran as the grader's own user with limits on "
              "memory, CPU time and file size in a new session; it could read and change anything that user can, "
              "including the hidden tests, the other submissions and the reports",
}


def _base_env(home: str, pythonpath: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "USER": "student",
            "LOGNAME": "student", "LANG": "C.UTF-8", "PYTHONPATH": pythonpath, "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg",
            # one BLAS thread: every thread counts against the process limit and reserves address space
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _merge_env(base: dict[str, str], env: dict[str, str] | None) -> dict[str, str]:
    merged = dict(base)
    for key, value in (env or {}).items():
        if not key or "=" in key or "\0" in key + value:
            raise ValueError(f"invalid environment variable {key!r}")
        merged[key] = f"{base['PYTHONPATH']}:{value}" if key == "PYTHONPATH" else value
    return merged


def _user_threads(uid: int) -> int:
    """Threads that the real uid ``uid`` runs now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = dict(line.split(":", 1) for line in Path(entry.path, "status").read_text().splitlines())
            except (OSError, ValueError):
                continue
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
    return count


def _prlimit(memory_bytes: int, cpu_seconds: int, nproc: int, file_bytes: int, open_files: int) -> list[str]:
    for name, value in [("memory_bytes", memory_bytes), ("cpu_seconds", cpu_seconds), ("max_processes", nproc),
                        ("file_bytes", file_bytes), ("open_files", open_files)]:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    tool = shutil.which("prlimit", path="/usr/bin:/bin")
    if tool is None:
        raise FileNotFoundError("prlimit (util-linux) not found")
    return [tool, f"--as={memory_bytes}", f"--cpu={cpu_seconds}:{cpu_seconds + 1}", f"--nproc={nproc}",
            f"--fsize={file_bytes}", f"--nofile={open_files}", "--core=0", "--"]


def _python_paths() -> list[Path]:
    """The interpreter's prefixes and library folders, as given and resolved."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parents[1]), *site.getsitepackages(),
             *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))}
    found = {p for raw in paths for p in (Path(raw).absolute(), Path(raw).resolve()) if p.is_dir()}
    return sorted(p for p in found if not any(p != q and p.is_relative_to(q) for q in found))


def _mounts(extra_ro, hide) -> list[str]:
    """bwrap's filesystem arguments: system folders, /etc files, Python, the package, extra read-only binds, with
    tmpfs over every ``hide`` path that falls inside a bound folder, and the parents of every mount point
    created world-readable (bwrap makes them 0700 when run as root)."""
    args: list[str] = []
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    binds = [(p, p) for p in _python_paths() if not p.is_relative_to("/usr")]
    binds.append((PACKAGE, Path(SANDBOX_LIB) / "adamcourse"))
    for item in extra_ro:
        src, dest = (item, item) if isinstance(item, (str, os.PathLike)) else item
        src, dest = Path(src).absolute(), Path(dest)
        if not dest.is_absolute() or not src.exists():
            raise FileNotFoundError(f"extra read-only path {src} -> {dest}: the source must exist and the "
                                    "destination be absolute")
        binds.append((src, dest))
    covers = [Path(p) for p in SYSTEM if os.path.isdir(p) and not os.path.islink(p)] + [s for s, _ in binds]
    hidden = {Path(h).resolve() for h in hide}
    hidden = {h for h in hidden if any(h.is_relative_to(c) for c in covers)}
    made = {Path("/"), *map(Path, SYSTEM), Path("/etc")}
    # shallow mount points first, so that a deeper bind lands on (and is not hidden by) the one above it
    for kind, src, dest in sorted([("bind", s, d) for s, d in binds] + [("hide", h, h) for h in hidden],
                                  key=lambda m: (len(m[2].parts), str(m[2]))):
        if any(dest.is_relative_to(s) for s in SYSTEM):
            parents = []
        else:
            parents = [p for p in reversed(dest.parents) if p not in made]
        for parent in parents:
            args += ["--perms", "0755", "--dir", str(parent)]
            made.add(parent)
        if kind == "bind":
            args += ["--ro-bind", str(src), str(dest)]
        else:
            args += ["--perms", "0555", "--size", "4096", "--tmpfs", str(dest), "--remount-ro", str(dest)]
        made.add(dest)
    return args


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin")
    if found is None:
        raise FileNotFoundError(f"{name} not found (Debian packages: bubblewrap, util-linux)")
    return found


def sandbox_command(argv, *, scratch_mb: int, memory_bytes: int, cpu_seconds: int, max_processes: int,
                    file_bytes: int, uid_offset: int = 0, extra_ro=(), env: dict[str, str] | None = None,
                    open_files: int = 256, hide=()) -> list[str]:
    """The command that runs ``argv`` in a sandbox (see the module's docstring). ``extra_ro``: more read-only
    binds, each a path or a ``(source, destination)`` pair; ``hide``: paths to cover with an empty tmpfs if they
    lie inside a bound folder (the repository holding the package always is); ``env`` is added to a minimal
    environment (its ``PYTHONPATH`` goes after the package's)."""
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("argv is empty")
    if not isinstance(scratch_mb, int) or scratch_mb < 1:
        raise ValueError(f"scratch_mb must be a positive integer, got {scratch_mb!r}")
    if not isinstance(uid_offset, int) or not 0 <= uid_offset < 5000:
        raise ValueError(f"uid_offset must be an integer in [0, 5000), got {uid_offset!r}")
    bwrap, root = _tool("bwrap"), os.geteuid() == 0
    nproc = max_processes if root else _user_threads(os.getuid()) + max_processes
    repo = [PACKAGE.parent] if PACKAGE.parent.name not in ("site-packages", "dist-packages") else []
    cmd = _prlimit(memory_bytes, cpu_seconds, nproc, file_bytes, open_files) + [
        bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "sandbox", "--die-with-parent", "--new-session"]
    if root:  # capabilities for setpriv only; it drops them all before the student's code starts
        cmd += ["--cap-drop", "ALL", *(x for c in ("SETUID", "SETGID", "SETPCAP") for x in ("--cap-add", f"CAP_{c}"))]
    else:
        cmd += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    # the scratch tmpfs first: Python's folders may lie under it (a checkout in /tmp), and their binds go on top
    cmd += ["--perms", "1777", "--size", str(scratch_mb * 2**20), "--tmpfs", SCRATCH]
    cmd += _mounts(extra_ro, [*repo, *hide])
    cmd += ["--proc", "/proc", "--dev", "/dev", "--chdir", SCRATCH, "--clearenv"]
    for key, value in _merge_env(_base_env(SCRATCH, SANDBOX_LIB), env).items():
        cmd += ["--setenv", key, value]
    cmd.append("--")
    if root:
        uid = str(BASE_UID + uid_offset)
        cmd += [_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--",
                bwrap, "--unshare-user", "--disable-userns", "--dev-bind", "/", "/", "--die-with-parent", "--"]
    return cmd + argv


_available: dict[str, str | None] = {}


def available() -> str | None:
    """bwrap's path if a trivial sandbox starts here (checked once), else None."""
    if "bwrap" not in _available:
        try:
            cmd = sandbox_command([sys.executable, "-c", "pass"], scratch_mb=1, memory_bytes=2**30, cpu_seconds=10,
                                  max_processes=16, file_bytes=2**20)
            ok = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60).returncode == 0
        except (OSError, ValueError, subprocess.SubprocessError):
            ok = False
        _available["bwrap"] = _tool("bwrap") if ok else None
    return _available["bwrap"]


# what unsafe_command runs before the command: a new session, the limits, the environment, the working folder
_WRAPPER = ("import json,os,resource as r,sys;c=json.loads(sys.argv[1]);os.setsid();"
            "[r.setrlimit(getattr(r,k),(s,h)) for k,(s,h) in c['limits'].items()];"
            "u=c.get('uid');u is None or (os.setgroups([]),os.setgid(c['gid']),os.setuid(u));"
            "os.chdir(c['cwd']);os.execve(sys.argv[2],sys.argv[2:],c['env'])")


def unsafe_command(argv, *, workdir, memory_bytes: int, cpu_seconds: int, max_processes: int, file_bytes: int,
                   env: dict[str, str] | None = None, open_files: int = 256, user: str | None = None) -> list[str]:
    """The no-sandbox fallback (``--unsafe-no-sandbox``): ``argv`` in a new session with the same resource
    limits, a clean environment and ``workdir`` as working folder, ``HOME`` and ``TMPDIR``. No isolation at all
    (``GUARANTEES["unsafe"]``); the process limit binds only when not grading as root. ``user`` (the grader
    running as root, e.g. in a Gradescope container): the process drops to that unprivileged user, who then
    cannot read what only root can (the hidden tests) nor write the reports; ``workdir`` is given to it."""
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("argv is empty")
    root = os.geteuid() == 0
    nproc = max_processes if root else _user_threads(os.getuid()) + max_processes
    _prlimit(memory_bytes, cpu_seconds, nproc, file_bytes, open_files)  # validates the values
    limits = {"RLIMIT_AS": (memory_bytes,) * 2, "RLIMIT_CPU": (cpu_seconds, cpu_seconds + 1),
              "RLIMIT_NPROC": (nproc,) * 2, "RLIMIT_FSIZE": (file_bytes,) * 2,
              "RLIMIT_NOFILE": (open_files,) * 2, "RLIMIT_CORE": (0, 0)}
    workdir = str(Path(workdir).resolve())
    config = {"limits": limits, "cwd": workdir,
              "env": _merge_env(_base_env(workdir, str(PACKAGE.parent)), env)}
    if user is not None:
        if not root:
            raise PermissionError(f"running the students' code as {user!r} needs the grader to run as root")
        entry = pwd.getpwnam(user)
        if entry.pw_uid == 0:
            raise ValueError(f"{user!r} is root: name an unprivileged user")
        config.update(uid=entry.pw_uid, gid=entry.pw_gid)
        limits["RLIMIT_NPROC"] = (_user_threads(entry.pw_uid) + max_processes,) * 2
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    return [sys.executable, "-I", "-c", _WRAPPER, json.dumps(config), shutil.which(argv[0]) or argv[0], *argv[1:]]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def kill_user(uid: int, rounds: int = 20) -> None:
    """SIGKILL every process of the real user ``uid`` (the unsafe mode's student user: its ``setsid``
    daemons too), until none is left."""
    if uid == 0:
        raise ValueError("refusing to kill root's processes")
    for _ in range(rounds):
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    uids = next(line for line in Path(entry.path, "status").read_text().splitlines()
                                if line.startswith("Uid:"))
                except (OSError, StopIteration):
                    continue
                if int(uids.split()[1]) == uid:
                    found.append(int(entry.name))
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def kill(proc: subprocess.Popen) -> int:
    """SIGKILL everything ``proc`` (from :func:`sandbox_command` or :func:`unsafe_command`) started, then reap it;
    returns its exit status. A sandbox dies as a PID namespace (nothing in it survives its PID 1); the unsafe
    mode kills the session's process group (a ``setsid`` daemon escapes it: one more reason not to use it)."""
    if "--unshare-pid" in proc.args:
        if proc.poll() is None:
            for pid in [*_children(proc.pid), proc.pid]:  # the namespace's PID 1, then bwrap outside it
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return proc.wait()
