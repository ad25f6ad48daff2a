"""A real Redis Cluster on loopback for tests: three primaries, started, resharded, killed and restarted."""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["RedisClusterProcesses"]


def _free_port_pair() -> int:
    """Return a port free on loopback whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as bus:
                bus.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class RedisClusterProcesses:
    """`size` redis-server processes in cluster mode, joined into one cluster with no replicas."""

    def __init__(self, size: int = 3):
        self.directory = Path(tempfile.mkdtemp(prefix="cpc-redis-cluster-"))
        self.ports = [_free_port_pair() for _ in range(size)]
        self.processes: dict[int, subprocess.Popen] = {}

    # Lifecycle -----------------------------------------------------------------------------------

    def start(self) -> "RedisClusterProcesses":
        for port in self.ports:
            self._start_node(port)
        self.cli(
            "--cluster",
            "create",
            *["127.0.0.1:%d" % port for port in self.ports],
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        )
        self.wait_until_ok()
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()
        self.processes = {}
        shutil.rmtree(self.directory, ignore_errors=True)

    def _start_node(self, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(node_dir),
                "--loglevel",
                "warning",
                # a primary whose slots all move away stays a primary (Redis would make it the receiver's replica)
                "--cluster-allow-replica-migration",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("-p", str(port), "ping", check=False).strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server on port %d did not start" % port)

    def kill(self, port: int) -> None:
        """Kill one node (SIGKILL): its keys are gone, as on a crash of a node that keeps nothing on disk."""
        process = self.processes.pop(port)
        process.kill()
        process.wait()

    def restart(self, port: int) -> None:
        """Start a killed node again with its cluster configuration (same id, same slots), then wait for ok."""
        self._start_node(port)
        self.wait_until_ok()

    # Commands ------------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise RuntimeError("redis-cli %s: %s%s" % (" ".join(args), result.stdout, result.stderr))
        return result.stdout

    def wait_until_ok(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [self.cli("-p", str(port), "cluster", "info", check=False) for port in self.processes]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not become ok")

    def node_id(self, port: int) -> str:
        return self.cli("-p", str(port), "cluster", "myid").strip()

    def reshard(self, source: int, target: int, slots: int) -> None:
        """Move `slots` hash slots (and their keys) from one node to another with `redis-cli --cluster reshard`."""
        self.cli(
            "--cluster",
            "reshard",
            "127.0.0.1:%d" % source,
            "--cluster-from",
            self.node_id(source),
            "--cluster-to",
            self.node_id(target),
            "--cluster-slots",
            str(slots),
            "--cluster-yes",
        )
        self.wait_until_ok()

    def keys_per_node(self) -> dict[int, int]:
        return {port: int(self.cli("-p", str(port), "dbsize").strip()) for port in self.processes}

    @property
    def url(self) -> str:
        return "redis://127.0.0.1:%d/0" % self.ports[0]

    @property
    def node_urls(self) -> list[str]:
        return ["redis://127.0.0.1:%d/0" % port for port in self.ports]
