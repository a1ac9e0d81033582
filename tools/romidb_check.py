"""What the Python checks of `romidb serve` share (python-client-check.py, python-write-check.py):
the built CLI, the server as a child process, the expectations and the per-case report."""

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, 'test-fixtures', 'server-db')
START_TIMEOUT = 60


class CheckError(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise CheckError(why)


def short(value, limit=200):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


def expect_eq(actual, expected, what):
    if actual != expected:
        raise CheckError(f'{what}: got {short(actual)}, expected {short(expected)}')


def cli_bin():
    with open(os.path.join(ROOT, 'packages', 'cli', 'package.json'), encoding='utf-8') as f:
        rel = json.load(f)['bin']['romidb']
    path = os.path.normpath(os.path.join(ROOT, 'packages', 'cli', rel))
    if not os.path.isfile(path):
        raise CheckError(f'{path} does not exist: build first (pnpm exec tsc -b)')
    return path


class Server:
    """`romidb <args>` (a `serve --json` command) as a child process; `url` is what it printed."""

    def __init__(self, args):
        self.log = tempfile.TemporaryFile(mode='w+b')
        self.proc = subprocess.Popen(['node', cli_bin(), *args], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log)
        self.lines = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = self._read_url()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.put(line.decode('utf-8', 'replace'))
        self.lines.put(None)

    def _read_url(self):
        # --json prints one JSON document once listening (possibly indented over several lines).
        text = ''
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise CheckError(f'no JSON on stdout within {START_TIMEOUT} s; stderr: {self.stderr_tail()}')
            if line is None:
                raise CheckError(f'exited with {self.proc.wait()} before printing its url; stdout {short(text)}; stderr: {self.stderr_tail()}')
            text += line
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get('url'), str):
                raise CheckError(f'printed {short(doc)}, not {{"url": ...}}')
            return doc['url'].rstrip('/')

    def stderr_tail(self, n=1500):
        """The end of stderr, without the request log (pino JSON lines below level 40, warn)."""
        self.log.seek(0)
        kept = []
        for line in self.log.read().decode('utf-8', 'replace').splitlines():
            try:
                if json.loads(line).get('level', 50) < 40:
                    continue
            except (ValueError, AttributeError):
                pass
            kept.append(line)
        return '\n'.join(kept)[-n:].strip() or '(nothing but the request log)'

    def stop(self, timeout=10):
        """SIGTERM, and the exit code; SIGKILL if it has not exited within `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise CheckError(f'still running {timeout} s after SIGTERM (killed)')
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Report:
    """`ok <case>` or `FAIL <case>: <why>` per case, counted."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, name, error=None):
        if error is None:
            self.passed += 1
            print(f'ok {name}', flush=True)
            return
        self.failed += 1
        why = ' '.join(str(error).split()) if isinstance(error, CheckError) else f'{type(error).__name__}: {error}'
        print(f'FAIL {name}: {why}', flush=True)
        if not isinstance(error, (CheckError, requests.RequestException)):
            traceback.print_exc(file=sys.stdout)


def run_cases(cases, ctx, server, report):
    """Every case, whatever the one before did; then SIGTERM must stop the server with 0."""
    for name, fn in cases:
        try:
            fn(ctx)
            report(name)
        except Exception as err:
            report(name, err)
    try:
        expect_eq(server.stop(), 0, 'exit code after SIGTERM')
        report('sigterm-stops-server')
    except CheckError as err:
        report('sigterm-stops-server', err)
    if report.failed:
        print('# server stderr (warnings and errors): ' + server.stderr_tail().replace('\n', '\n# '), flush=True)
