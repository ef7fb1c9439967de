"""Jobs in processes of their own: forked from a server that has imported their modules
once, or each in a fresh interpreter.

Snakemake runs jobs as threads of its process; the theory, the findings and the report's
figures are Python from end to end (pandas, matplotlib, jinja), so as threads they would
take turns holding the global lock. As processes they run side by side. A fresh
interpreter spent 0.7-2.3 s of each such job importing pandas, matplotlib, seaborn and
Numba; a fork of the job server, which imported them once, starts at once. The server
imports its modules one by one and serves requests between them: a job whose module it
has imported already forks at once; a job whose module is still to come waits while the
server imports that module first (forked at once, the child imported it while the server
did too: the theory job, the quick study's first, spent its 1.5 s of imports twice).

Only the pipeline's own process uses a server (``use_job_server``, rules/common.smk);
anywhere else (a job that a cluster runs in a Snakemake process of its own, a test, a
platform without fork) every job gets a fresh interpreter. The stdlib's forkserver is not
used: it runs the parent's main script again in every child, which for Snakemake's
command is 1.3 s of importing Snakemake.
"""

import atexit
import contextlib
import gc
import importlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback

# glibc's malloc hands blocks of 128 KiB and more back to the system as soon as they are
# freed, until its thresholds have adapted (up to 32 and 64 MiB), so a NumPy temporary of a
# few MB is fresh pages each time it is allocated: page faults, costly on a virtual machine.
# The theory job took 350-450k of them in the quick study (1 s of its 2.7 s of CPU), the
# findings 115-125k. These are the values the thresholds adapt up to, from the start; C
# libraries other than glibc ignore them.
MALLOC_ENVIRONMENT = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(64 << 20),
}
ERROR_TAIL = 4000  # characters of a failed job's stderr that its error carries
DONE = "done"  # what a child reports once its job has returned; anything else is a failure


def in_own_process(job, *args, fresh=False):
    """Run the function ``job`` (importable at module level) with JSON-able ``args`` in a
    process of its own, and wait for it; a failure raises RuntimeError with the end of the
    child's stderr (its traceback).

    The child freezes the objects its imports made before the job (no collection traverses
    them again) and, once the job has returned, runs its atexit handlers, flushes its
    streams and leaves with ``os._exit``: the interpreter's teardown of every module and
    object (0.2-0.4 s a process) is work that nothing needs, as the job's outputs are
    closed files by then. It runs with glibc's malloc thresholds where they would adapt to
    anyway (MALLOC_ENVIRONMENT), unless the environment sets them.

    Forked from this process's job server where ``use_job_server`` registered one (started
    on first use), unless ``fresh``: a job that needs none of the server's modules and runs
    before it would have imported them (a compile part).
    """
    request = {"module": job.__module__, "name": job.__name__, "args": args}
    server = None if fresh else _JOB_SERVER.get("server")
    reply = server.run(request) if server is not None else None
    if reply is None:  # no server, or it is gone
        reply = _run_fresh(request)
    if reply != DONE:
        raise RuntimeError(f"{job.__name__} failed in its own process:\n{reply[-ERROR_TAIL:]}")


def side_by_side(work, count, processes=2, order=None, default=None):
    """[work(0), ..., work(count - 1)], computed by this process and ``processes - 1``
    forks of it side by side: each takes the next number from a queue they share (a pipe
    holding them all, in ``order``: the costliest first keeps a long item from starting
    last), so the shares follow what each item costs, and a fork sends its results back
    as JSON (``default`` as for ``json.dumps``). Without ``os.fork``, or with one process,
    this process computes them all in order; never more processes than the CPUs this one
    may run on (a cluster job given one CPU computes them all itself). A fork's failure
    raises RuntimeError with the end of its traceback.

    For work that forks cheaply and shares state read-only (the report's sections: one
    set of tables, figures each into a file of its own)."""
    processes = min(processes, usable_cpus())
    if processes < 2 or count < 2 or not hasattr(os, "fork"):
        return [work(i) for i in range(count)]
    if count > 255:
        raise ValueError(f"side_by_side queues one byte a number: {count} items")
    order = list(range(count)) if order is None else list(order)
    if sorted(order) != list(range(count)):
        raise ValueError(f"side_by_side: the order {order} is not of the numbers 0..{count - 1}")
    queue_out, queue_in = os.pipe()
    os.write(queue_in, bytes(order))  # far below a pipe's buffer
    os.close(queue_in)
    sys.stdout.flush()
    sys.stderr.flush()
    forks = []
    for _ in range(min(processes, count) - 1):
        reply_out, reply_in = os.pipe()
        pid = os.fork()
        if pid == 0:  # the fork: its share, its reply, and out (never back to the caller)
            try:
                os.close(reply_out)
                try:
                    text = json.dumps({"done": _take_from(queue_out, work)}, default=default)
                except BaseException:
                    text = json.dumps({"error": traceback.format_exc()[-ERROR_TAIL:]})
                with os.fdopen(reply_in, "w") as channel:
                    channel.write(text)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
        os.close(reply_in)
        forks.append((pid, reply_out))
    try:
        results = _take_from(queue_out, work)
    finally:
        os.close(queue_out)
        replies = [_reply(pid, reply_out) for pid, reply_out in forks]
    for reply in replies:
        if "error" in reply:
            raise RuntimeError(f"a fork of side_by_side failed:\n{reply['error']}")
        results.update({int(number): value for number, value in reply["done"].items()})
    return [results[i] for i in range(count)]


def usable_cpus():
    """How many CPUs this process may run on (its affinity: a SLURM job's allocation),
    or the machine's count where the platform does not say."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _reply(pid, reply_out):
    """What the fork ``pid`` sent back on the pipe ``reply_out``, once it has left."""
    with os.fdopen(reply_out) as channel:
        text = channel.read()
    os.waitpid(pid, 0)
    return json.loads(text) if text else {"error": "it sent nothing back"}


def _take_from(queue, work):
    """{number: work(number)} for each number this process reads from the queue's pipe."""
    done = {}
    while number := os.read(queue, 1):
        done[number[0]] = work(number[0])
    return done


def use_job_server(modules):
    """Let ``in_own_process`` fork this process's jobs from a server that imports
    ``modules`` (in this order), started by the first job that uses it. Call it in the
    process that runs the jobs; without ``os.fork``, jobs keep fresh interpreters."""
    if hasattr(os, "fork"):
        _JOB_SERVER["server"] = _LazyServer(list(modules))


def stop_job_server():
    """Let the job server, if one was started, leave (jobs forked already run on)."""
    server = _JOB_SERVER.pop("server", None)
    if server is not None:
        server.stop()


_JOB_SERVER = {}


def _child_environment():
    return {**MALLOC_ENVIRONMENT, **os.environ}


def _run_fresh(request):
    """``request`` in a fresh interpreter: its reply (``DONE``, or its stderr's end)."""
    code = "from initbench.processes import run_fresh_child; run_fresh_child()"
    done = subprocess.run([sys.executable, "-c", code, json.dumps(request, default=str)],
                          capture_output=True, text=True, env=_child_environment())  # fmt: skip
    if done.returncode == 0 and done.stdout.endswith(DONE):
        return DONE
    return done.stderr or f"exit status {done.returncode}"


def run_fresh_child():
    """The fresh interpreter's side of ``_run_fresh``: the request is its first argument."""
    _call(json.loads(sys.argv[1]))  # a failure exits the usual way, its traceback on stderr
    _leave(lambda: sys.stdout.write(DONE))


def _call(request):
    """Import the request's job, freeze what the imports made, and run it."""
    job = getattr(importlib.import_module(request["module"]), request["name"])
    gc.freeze()
    job(*request["args"])


def _leave(report):
    """The job has returned: atexit handlers, ``report()``, the streams flushed, exit 0
    without the interpreter's teardown."""
    atexit._run_exitfuncs()
    report()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _LazyServer:
    """A job server (``serve``) started at the first request, over a Unix socket."""

    def __init__(self, modules):
        self._modules = modules
        self._lock = threading.Lock()
        self._process = None
        self._address = None

    def _start(self):
        with self._lock:
            if self._process is None:
                folder = tempfile.mkdtemp(prefix="initbench-jobs-")  # 0700: this user's alone
                self._address = os.path.join(folder, "socket")
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                    listener.bind(self._address)
                    listener.listen(64)
                    fd = listener.fileno()
                    code = "from initbench.processes import serve; serve()"
                    self._process = subprocess.Popen(
                        [sys.executable, "-c", code, str(fd), folder, json.dumps(self._modules)],
                        stdin=subprocess.PIPE, pass_fds=[fd], env=_child_environment(),
                    )  # fmt: skip

    def run(self, request):
        """The forked child's reply to ``request``; None if the server cannot be reached
        (it has left: the job then gets a fresh interpreter)."""
        self._start()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            try:
                connection.connect(self._address)
            except OSError:
                return None
            connection.sendall(json.dumps(request, default=str).encode())
            connection.shutdown(socket.SHUT_WR)
            reply = _read_all(connection).decode(errors="replace")
        return reply or "its process ended before it could report (killed?)"

    def stop(self):
        """Close the server's stdin, at whose end it removes its socket and leaves; not
        waited for, as its exit is nothing the pipeline needs."""
        with self._lock:
            if self._process is not None:
                self._process.stdin.close()
                self._process = None


def _read_all(connection):
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def serve():
    """The job server: import the modules one by one, and fork a child for each request
    on the listening socket (serving requests between imports); leave, without the
    interpreter's teardown, at the end of stdin, which the pipeline's process holds."""
    listener = socket.socket(fileno=int(sys.argv[1]))
    folder, pending = sys.argv[2], json.loads(sys.argv[3])
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    # Ctrl-C reaches the terminal's whole process group: the jobs stop, the server waits
    # for the pipeline's process to end (its stdin's end) and removes its socket then
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [], 0 if pending else None)
        if sys.stdin in ready:  # end of file: the pipeline's process is done with it
            shutil.rmtree(folder, ignore_errors=True)
            os._exit(0)
        if listener in ready:
            connection, _ = listener.accept()
            request = json.loads(_read_all(connection))
            if request["module"] in pending:  # imported here, not in the child and here again
                pending.remove(request["module"])
                _import(request["module"])
            if os.fork() == 0:
                listener.close()
                _run_forked_child(connection, request)
            connection.close()
        elif pending:
            _import(pending.pop(0))


def _import(module):
    """The job server imports ``module`` and freezes what it made; a module that fails to
    import is left to the job that needs it, which raises the error."""
    with contextlib.suppress(Exception):
        importlib.import_module(module)
    gc.freeze()


def _run_forked_child(connection, request):
    """A forked child: run ``request``, its stdout and stderr into a temporary file (as a
    fresh interpreter's are captured), and send ``DONE`` or the file's end with the
    traceback on ``connection``. Never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the job's own subprocesses are waited for
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops the job
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    with tempfile.TemporaryFile() as output:  # never closed: the child leaves by os._exit
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        try:
            _call(request)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            output.seek(0)
            connection.sendall(output.read()[-ERROR_TAIL:] or b"failed")
            os._exit(1)
        _leave(lambda: connection.sendall(DONE.encode()))
