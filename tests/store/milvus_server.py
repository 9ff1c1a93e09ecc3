"""A real Milvus 2.3.5 standalone server, started from the ``milvus`` wheel (pip install milvus==2.3.5).

The wheel ships the Go/C++ server binary (compressed) with an embedded etcd and rocksmq; its
``MilvusServerConfig`` fills in the config template (free ports from its defaults upwards,
a data folder). This module uses that, then starts the binary itself so that it runs in its
own process group and can always be stopped:

```python
with MilvusProcess(tmp_dir) as server:   # StartFailed (one line) if it does not serve in time
    settings = settings.replace(store="milvus", milvus_uri=server.uri)
```

What is bound where: every component advertises 127.0.0.1 (``<component>.ip``) and the
embedded etcd listens on 127.0.0.1 only (client and peer port both free ones, from an
etcd config file). Milvus 2.3.5 has no setting for the listening address of its gRPC and
metrics ports: those listen on every interface, on the free ports chosen here.

Used by tests/store/test_milvus_server.py and bench/bench_store.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexCoord", "indexNode", "dataCoord", "dataNode")
START_TIMEOUT = float(os.environ.get("RAG_TEST_MILVUS_START_TIMEOUT", "180"))


class StartFailed(RuntimeError):
    """The server did not come up; the message is one line saying why and where its log is."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MilvusProcess:
    """One Milvus standalone server in ``data_dir``: ``start()``, ``uri``, ``stop()``."""

    def __init__(self, data_dir: Path, timeout: float = START_TIMEOUT):
        self.data_dir = Path(data_dir).resolve()
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.health_port: int | None = None
        self.version = ""

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "logs" / "milvus-stdout.log"

    def __enter__(self) -> "MilvusProcess":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        try:
            import milvus
        except ImportError:
            raise StartFailed("the milvus package is not installed (pip install milvus==2.3.5)") from None
        self.version = milvus.__version__
        config = milvus.MilvusServerConfig(data_dir=str(self.data_dir))
        for component in COMPONENTS:
            config.set(f"{component}.ip", "127.0.0.1")
        config.resolve()  # free ports for every component, config/milvus.yaml written
        self.port = int(config.get("proxy_port"))
        self._bind_etcd_to_loopback(int(config.get("etcd_port")))
        milvus._initialize_data_files(str(self.data_dir))  # noqa: SLF001 (the wheel's own unpacking of its binaries)
        binary = self.data_dir / "bin" / "milvus"
        self.health_port = free_port()
        env = {**os.environ, "DEPLOY_MODE": "STANDALONE", "METRICS_PORT": str(self.health_port),
               "MILVUS_RUN_DIR": str(self.data_dir / "run"),
               "LD_LIBRARY_PATH": f"{binary.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
        with open(self.log, "w", encoding="utf-8") as out, open(self.data_dir / "logs" / "milvus-stderr.log", "w") as err:
            self.process = subprocess.Popen([str(binary), "run", "standalone"], cwd=self.data_dir, env=env,
                                            stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise

    def _bind_etcd_to_loopback(self, client_port: int) -> None:
        """Point the embedded etcd at a config file: 127.0.0.1 only, free client and peer ports.

        Without one it takes etcd's defaults, localhost:2379 and :2380, whoever else uses them.
        """
        peer = f"http://127.0.0.1:{free_port()}"
        client = f"http://127.0.0.1:{client_port}"
        etcd_config = self.data_dir / "configs" / "etcd.yaml"
        etcd_config.write_text(
            f"name: default\nlisten-client-urls: {client}\nadvertise-client-urls: {client}\n"
            f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\ninitial-cluster: default={peer}\n",
            encoding="utf-8")
        milvus_yaml = self.data_dir / "configs" / "milvus.yaml"
        text = milvus_yaml.read_text(encoding="utf-8")
        text = text.replace("\netcd:\n", f"\netcd:\n  config:\n    path: {etcd_config}\n", 1)
        milvus_yaml.write_text(text, encoding="utf-8")

    def _wait_until_serving(self) -> None:
        from pymilvus import MilvusClient

        deadline = time.monotonic() + self.timeout
        while True:
            if self.process.poll() is not None:
                raise StartFailed(f"Milvus {self.version} exited with code {self.process.returncode} while starting: "
                                  f"{self._last_log_line()} (log: {self.log})")
            if time.monotonic() > deadline:
                raise StartFailed(f"Milvus {self.version} did not serve on 127.0.0.1:{self.port} within "
                                  f"{self.timeout:.0f} s (RAG_TEST_MILVUS_START_TIMEOUT; log: {self.log})")
            if self._healthy():
                try:
                    client = MilvusClient(uri=self.uri, timeout=5)
                    client.list_collections()
                    client.close()
                    return
                except Exception:  # noqa: BLE001 (healthy but not yet answering: keep waiting)
                    pass
            time.sleep(0.5)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as response:
                return b"OK" in response.read()
        except OSError:
            return False

    def _last_log_line(self) -> str:
        for path in (self.data_dir / "logs" / "milvus-stderr.log", self.log):
            try:
                lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
            except OSError:
                continue
            if lines:
                return lines[-1][:300]
        return "(no log output)"

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to its process group, SIGKILL after ``grace`` seconds (2.3.5 often ignores SIGTERM)."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if process.poll() is None:
            print(f"warning: Milvus server (pid {process.pid}) did not exit", file=sys.stderr)
