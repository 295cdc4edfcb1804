"""Start `make run`'s stack as a subprocess on a free port, and stop it cleanly."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120


def eventually(check, timeout: float = 20.0, every: float = 0.25):
    """check() until it answers something true or `timeout` seconds pass (then its last answer): stream handlers,
    queues and schedules act a moment after the write, so poll as a client would."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningStack:
    def __init__(self, local_dir: Path, port: int | None = None, extra_env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.local_dir = local_dir
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MALL_", "AWS_"))}
        env.update({"PORT": str(self.port), "MALL_LOCAL_DIR": str(local_dir),
                    "MALL_LOCAL_SCHEDULE_SECONDS": "1", **(extra_env or {})})
        self.log_path = local_dir / "stack.log"
        local_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        # `make run` itself, in its own process group so the whole tree can be signalled.
        self.process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> RunningStack:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"stack exited early ({self.process.returncode}):\n{self.output()}")
            try:
                if self.request("GET", "/health")[0] == 200 and "micromall is running" in self.output():
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"stack not ready in {START_TIMEOUT}s:\n{self.output()}")

    def request(self, method: str, path: str, body=None, token: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 10):
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """Ctrl-C the whole process group, as a terminal would; 0 when the stack stopped cleanly.

        make dies of the SIGINT itself once its child has exited (exit status -2 here),
        so a clean stop is judged by the stack's own last words and make's status.
        """
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                diagnosis = self._diagnose()
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise AssertionError(f"stack ignored Ctrl-C for {timeout}s:\n{diagnosis}\n{self.output()[-8000:]}") \
                    from None
        self._log.close()
        clean = self.process.returncode in (0, -signal.SIGINT) and "stopped; data saved" in self.output()
        return 0 if clean else (self.process.returncode or 1)

    def _diagnose(self) -> str:
        """Signal dispositions of the stack's processes, and every Python thread's stack (faulthandler, SIGUSR1)."""
        lines = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                if os.getpgid(int(status.parent.name)) != self.process.pid:
                    continue
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except (OSError, ValueError):
                continue
            masks = " ".join(f"{name} {fields.get(name, '').strip()}" for name in ("SigBlk", "SigIgn", "SigCgt"))
            lines.append(f"pid {status.parent.name} {fields.get('Name', '?').strip()}: {masks}")
            if "python" in fields.get("Name", ""):
                os.kill(int(status.parent.name), signal.SIGUSR1)
        time.sleep(1)
        return "\n".join(lines)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
            return True
        except ProcessLookupError:
            return False
