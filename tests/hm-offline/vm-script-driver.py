"""Runs the Python test script of a NixOS VM test on this machine.

`machine` runs commands locally; `su -l alice -c CMD` becomes CMD run by the
current user with HOME=/home/alice and a minimal environment. A development
aid for machines without NixOS VMs (see run-vm-script.sh); it proves the
script's logic against the real helper, not the VM's users and permissions.
"""

import contextlib
import os
import shlex
import subprocess
import sys
import time

ENV = {
    "HOME": "/home/alice",
    "USER": "alice",
    "LOGNAME": "alice",
    "PATH": "/home/alice/.nix-profile/bin:/usr/local/bin:/usr/bin:/bin",
}
PREFIX = "su -l alice -c "


def command(cmd: str) -> list[str]:
    if cmd.startswith(PREFIX):
        inner = shlex.split(cmd[len(PREFIX):])[0]
        env = [f"{k}={v}" for k, v in ENV.items()]
        return ["env", "-i", *env, "bash", "-c", "cd ~\n" + inner]
    return ["bash", "-c", cmd]


def run(cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(cmd), capture_output=True, text=True)


class Machine:
    def succeed(self, cmd: str) -> str:
        p = run(cmd)
        if p.returncode != 0:
            raise AssertionError(f"command failed ({p.returncode}): {cmd}\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def fail(self, cmd: str) -> str:
        p = run(cmd)
        if p.returncode == 0:
            raise AssertionError(f"command succeeded unexpectedly: {cmd}\n{p.stdout}")
        print(f"   failed as expected ({p.returncode}): {p.stderr.strip()}")
        return p.stdout

    def wait_for_unit(self, unit: str) -> None:
        pass

    def wait_for_file(self, path: str) -> None:
        for _ in range(300):
            if os.path.exists(path):
                return
            time.sleep(0.1)
        raise AssertionError(f"{path} did not appear")

    def wait_until_fails(self, cmd: str) -> None:
        for _ in range(300):
            if run(cmd).returncode != 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"still succeeds: {cmd}")


@contextlib.contextmanager
def subtest(name: str):
    print(f"subtest: {name}", flush=True)
    yield


machine = Machine()
exec(open(sys.argv[1]).read())
print("all subtests passed")
