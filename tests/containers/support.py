"""Run the images the way the rendered chart runs them, with Podman on this machine.

Each workload of `helm template` (the api/assembler/transcriber Deployments, the migration
hook Job, the `helm test` Pod) becomes one `podman run`: the same image, args and command, the
environment Kubernetes would give the container (its ConfigMap and Secret through `envFrom`,
then its own `env`), its securityContext (user, read-only root filesystem, no capabilities, no
privilege escalation), its emptyDir volumes as tmpfs mounts and its memory limit.

Every container has a network namespace of its own, as a pod does (slirp4netns): it listens on
the chart's ports, published on 127.0.0.1 only, and reaches the host's loopback services as
10.0.2.2. So the only things that differ from a cluster are host addresses and secrets, and
those go in through the chart's values, not behind its back.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.deploy.support import CHART, by_kind, component_of, pod_spec, render_chart
from tests.needs import require

# slirp4netns with allow_host_loopback: the host's 127.0.0.1 as seen from a container.
HOST_FROM_CONTAINER = "10.0.2.2"
NETWORK = "slirp4netns:allow_host_loopback=true"
# Every container of one stage run carries this label; .ci/containers removes them by it.
RUN_LABEL = "recordplus.ci.run"
RUN_ID = os.environ.get("RECORDPLUS_CI_RUN") or f"rpci-{uuid.uuid4().hex[:8]}"
# Nothing started here outlives this, even if nobody tears it down.
CONTAINER_TIMEOUT_SECONDS = 1800

IMAGE_REGISTRY = os.environ.get("RECORDPLUS_CI_IMAGE_REGISTRY", "localhost/recordplus-ci")
IMAGE_TAG = os.environ.get("RECORDPLUS_CI_IMAGE_TAG", "ci")
TRANSCRIBER_TAG = os.environ.get("RECORDPLUS_CI_TRANSCRIBER_TAG", "ci-cpu")


def podman_binary() -> str:
    found = shutil.which("podman")
    require(found is not None, "podman (Debian package podman; bash .ci/containers installs it)")
    assert found is not None
    return found


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([podman_binary(), *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} … failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def inspect_image(ref: str) -> dict[str, Any]:
    return json.loads(podman("image", "inspect", ref).stdout)[0]


# --- the rendered chart -----------------------------------------------------------------------


def loopback_to_container(url: str) -> str:
    """The same URL, with the host's loopback as a container reaches it."""
    return re.sub(r"(?<=[/@])(127\.0\.0\.1|localhost)(?=[:/])", HOST_FROM_CONTAINER, url, count=1)


# The stage runs the kind try-out's rendering (docs/deploy.md "Try it on kind"): CPU
# transcriber, small limits, KEDA and Prometheus Operator absent; only hosts, credentials and
# the images this stage built are layered over it (ci_values).
KIND_VALUES = CHART / "ci" / "kind-values.yaml"


def ci_values(*, database_url: str, broker_url: str, s3_url: str, bucket: str) -> dict[str, Any]:
    """Chart values for this machine, over the kind values: only where things are and the
    credentials, and the images this stage built."""
    return {
        "image": {"registry": IMAGE_REGISTRY, "tag": IMAGE_TAG},
        "secretKey": f"ci-{uuid.uuid4().hex}",
        "database": {"url": loopback_to_container(database_url)},
        "broker": {"url": loopback_to_container(broker_url)},
        "s3": {
            "bucket": bucket,
            "endpointUrl": loopback_to_container(s3_url),
            # What a browser (this test) follows presigned URLs to.
            "publicEndpointUrl": s3_url,
            "accessKeyId": "testing",
            "secretAccessKey": "testing",
        },
        "transcriber": {"image": {"tag": TRANSCRIBER_TAG}, "gpu": {"enabled": False}},
    }


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The kind values with `values` over them, rendered as on a plain kind cluster."""
    with tempfile.NamedTemporaryFile("w", suffix="-values.yaml", delete=False) as handle:
        yaml.safe_dump(values, handle)
    try:
        return render_chart(KIND_VALUES, "--values", handle.name, api_versions=())
    finally:
        os.unlink(handle.name)


def _secret_data(secret: dict[str, Any]) -> dict[str, str]:
    data = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    data.update({k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()})
    return data


def container_env(documents: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """What Kubernetes puts in the container's environment: envFrom sources in order, then
    `env`, which wins."""
    config_maps, secrets = by_kind(documents, "ConfigMap"), by_kind(documents, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update({k: str(v) for k, v in config_maps[source["configMapRef"]["name"]]["data"].items()})
        elif "secretRef" in source:
            env.update(_secret_data(secrets[source["secretRef"]["name"]]))
        else:  # pragma: no cover - the chart uses neither prefix nor other sources
            raise AssertionError(f"unsupported envFrom {source}")
    for item in container.get("env", []):
        assert "value" in item, f"valueFrom is not supported here: {item}"
        env[item["name"]] = str(item["value"])
    return env


def _memory(quantity: str) -> str:
    """A Kubernetes memory quantity as Podman's --memory."""
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(quantity))
    assert match, f"unsupported memory quantity {quantity}"
    return f"{match.group(1)}{ {'Ki': 'k', 'Mi': 'm', 'Gi': 'g', None: 'b'}[match.group(2)] }"


@dataclass
class Workload:
    """One container of a rendered pod spec, ready to be run."""

    name: str
    image: str
    command: list[str] | None
    args: list[str]
    env: dict[str, str]
    ports: dict[str, int]
    security: dict[str, Any]
    pod_security: dict[str, Any]
    tmpfs: dict[str, str | None]
    memory: str | None
    container: dict[str, Any]

    @classmethod
    def of(cls, documents: list[dict[str, Any]], doc: dict[str, Any], container_name: str | None = None) -> Workload:
        spec = pod_spec(doc)
        containers = spec["containers"]
        container = next(c for c in containers if container_name in (None, c["name"]))
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        tmpfs: dict[str, str | None] = {}
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            assert "emptyDir" in volume, f"only emptyDir volumes can be run here: {volume}"
            tmpfs[mount["mountPath"]] = (volume["emptyDir"] or {}).get("sizeLimit")
        limits = container.get("resources", {}).get("limits", {})
        return cls(
            name=f"{component_of(doc)}",
            image=container["image"],
            command=container.get("command"),
            args=[str(a) for a in container.get("args", [])],
            env=container_env(documents, container),
            ports={p.get("name", str(p["containerPort"])): int(p["containerPort"]) for p in container.get("ports", [])},
            security=container.get("securityContext", {}),
            pod_security=spec.get("securityContext", {}),
            tmpfs=tmpfs,
            memory=_memory(limits["memory"]) if "memory" in limits else None,
            container=container,
        )

    def run_args(self) -> list[str]:
        """`podman run` options that give this container what the pod spec gives it."""
        sec, pod = self.security, self.pod_security
        args = ["--pull=never", f"--label={RUN_LABEL}={RUN_ID}", f"--timeout={CONTAINER_TIMEOUT_SECONDS}"]
        user = sec.get("runAsUser", pod.get("runAsUser"))
        group = sec.get("runAsGroup", pod.get("runAsGroup"))
        if user is not None:
            args.append(f"--user={user}:{group}" if group is not None else f"--user={user}")
        if pod.get("fsGroup") is not None:
            args.append(f"--group-add={pod['fsGroup']}")
        if sec.get("readOnlyRootFilesystem"):
            # Only the mounts the pod spec gives are writable; no extra tmpfs on /run, /var/tmp.
            args += ["--read-only", "--read-only-tmpfs=false"]
        for capability in sec.get("capabilities", {}).get("drop", []):
            args.append(f"--cap-drop={capability}")
        for capability in sec.get("capabilities", {}).get("add", []):
            args.append(f"--cap-add={capability}")
        if sec.get("allowPrivilegeEscalation") is False:
            args.append("--security-opt=no-new-privileges")
        seccomp = sec.get("seccompProfile", pod.get("seccompProfile", {})).get("type")
        assert seccomp in (None, "RuntimeDefault"), f"seccomp {seccomp} is not run here"
        for path, size in self.tmpfs.items():
            options = "rw,mode=1777" + (f",size={_memory(size)}" if size else "")
            args.append(f"--tmpfs={path}:{options}")
        if self.memory:
            args.append(f"--memory={self.memory}")
        for key, value in sorted(self.env.items()):
            args += ["--env", f"{key}={value}"]
        if self.command is not None:
            args.append(f"--entrypoint={json.dumps(self.command)}")
        return args


def find(documents: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    matches = [d for d in documents if d["kind"] == kind and component_of(d) == component]
    assert len(matches) == 1, f"expected one {kind} for {component}, found {len(matches)}"
    return matches[0]


# --- running containers ---------------------------------------------------------------------


@dataclass
class Container:
    """A container started from a Workload, with its ports published on 127.0.0.1."""

    workload: Workload
    name: str
    logdir: Path
    host_ports: dict[int, int] = field(default_factory=dict)

    @classmethod
    def start(cls, workload: Workload, logdir: Path, *, network: str = NETWORK) -> Container:
        name = f"{RUN_ID}-{workload.name}-{uuid.uuid4().hex[:4]}"
        publish = [f"--publish=127.0.0.1::{port}" for port in workload.ports.values()] if network == NETWORK else []
        try:
            podman(
                "run", "--detach", f"--name={name}", f"--network={network}",
                *publish, *workload.run_args(), workload.image, *workload.args,
            )  # fmt: skip
        except AssertionError:
            podman("rm", "--force", name, check=False)  # created but never started
            raise
        container = cls(workload, name, logdir)
        for port in workload.ports.values():
            published = podman("port", name, f"{port}/tcp").stdout.strip().splitlines()[0]
            container.host_ports[port] = int(published.rsplit(":", 1)[1])
        return container

    def url(self, port: str | int, path: str = "") -> str:
        number = self.workload.ports[port] if isinstance(port, str) else port
        return f"http://127.0.0.1:{self.host_ports[number]}{path}"

    def state(self) -> dict[str, Any]:
        return json.loads(podman("inspect", "--type=container", self.name).stdout)[0]["State"]

    def running(self) -> bool:
        return bool(self.state().get("Running"))

    def wait(self, timeout: float = 300) -> int:
        result = podman("wait", self.name, timeout=timeout)
        return int(result.stdout.strip().splitlines()[-1])

    def logs(self, tail: int | None = 80) -> str:
        # Sliced here: Podman 4.3's --tail drops a last line that has no newline yet.
        result = podman("logs", self.name, check=False)
        lines = (result.stdout + result.stderr).splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def assert_running(self) -> None:
        if not self.running():
            raise AssertionError(f"{self.workload.name} exited ({self.state().get('ExitCode')}):\n{self.logs()}")

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *args, check=check)

    def remove(self) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)
        (self.logdir / f"{self.workload.name}.log").write_text(self.logs(tail=None))
        podman("rm", "--force", "--time=10", self.name, check=False, timeout=60)


def wait_http(url: str, *, period: float, attempts: int, container: Container | None = None) -> httpx.Response:
    """Probe `url` the way the kubelet does: every `period` seconds, at most `attempts` times,
    until it answers 2xx/3xx."""
    last = ""
    for _ in range(max(1, attempts)):
        if container is not None:
            container.assert_running()
        try:
            response = httpx.get(url, timeout=5)
            if 200 <= response.status_code < 400:
                return response
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(period)
    logs = container.logs() if container is not None else ""
    raise AssertionError(f"{url} never answered: {last}\n{logs}")


def wait_tcp_inside(container: Container, port: int, *, period: float, attempts: int) -> None:
    """A tcpSocket probe from inside the container's network namespace, as the kubelet connects
    to the pod's own address (the published host port is accepted by the forwarder anyway)."""
    check = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5).close()"
    last = ""
    for _ in range(max(1, attempts)):
        container.assert_running()
        result = container.exec("python", "-c", check, check=False)
        if result.returncode == 0:
            return
        last = result.stderr.strip().splitlines()[-1:]
        time.sleep(period)
    raise AssertionError(f"{container.workload.name}: nothing listens on {port}: {last}\n{container.logs()}")


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, by (name, sorted labels)."""
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def metric(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scraped.items() if n == name and wanted <= set(ls))
