"""The chart carries the settings the code reads, and only names the code knows."""

from __future__ import annotations

import re
from typing import Any

from tests.deploy.support import CHART, ROOT, by_kind, workload

# Set by the chart for libraries or the worker CLI rather than read through recordplus.core.env.
READ_ELSEWHERE = {"WORKER_THREADS"}
_ENV_CALL = re.compile(r'(?:env(?:str|bool|int|float|choice|list)\(|os\.environ\.get\()\s*"([A-Z0-9_]+)"')


def _read_by(*relative: str) -> set[str]:
    names: set[str] = set()
    for path in relative:
        for file in (ROOT / path).rglob("*.py") if (ROOT / path).is_dir() else [ROOT / path]:
            names |= set(_ENV_CALL.findall(file.read_text()))
    return names


def test_it_carries_every_setting_of_the_settings_module(rendered: dict[str, list[dict[str, Any]]]) -> None:
    documents = rendered["minimal"]
    config = next(d for d in by_kind(documents, "ConfigMap").values() if d["metadata"]["name"].endswith("-config"))
    secret = next(d for d in by_kind(documents, "Secret").values() if d["metadata"]["name"].endswith("-secrets"))
    carried = set(config["data"]) | set(secret["stringData"])
    settings = _read_by("services/api/src/recordplus/config/settings.py")
    assert settings, "no env reads found in settings.py"
    # Worker threads are per component (container env); MEDIA_URL_SECRET falls back to SECRET_KEY,
    # which the Secret carries; everything else is shared.
    assert settings - carried <= {"WORKER_THREADS", "MEDIA_URL_SECRET"}
    assert "WORKER_THREADS" in settings - carried
    assert set(secret["stringData"]) == {
        "SECRET_KEY",
        "DATABASE_URL",
        "BROKER_URL",
        "S3_ACCESS_KEY_ID",
        "S3_SECRET_ACCESS_KEY",
    }
    assert not {"SECRET_KEY", "DATABASE_URL", "BROKER_URL", "S3_SECRET_ACCESS_KEY"} & set(config["data"])


def test_it_sets_only_variables_the_code_reads(rendered: dict[str, list[dict[str, Any]]]) -> None:
    known = _read_by("services") | READ_ELSEWHERE
    for values_name in ("default", "production", "dev"):
        documents = rendered[values_name]
        config = next(d for d in by_kind(documents, "ConfigMap").values() if d["metadata"]["name"].endswith("-config"))
        set_names = set(config["data"])
        for component in ("api", "assembler", "transcriber"):
            container = workload(documents, "Deployment", component)["spec"]["template"]["spec"]["containers"][0]
            set_names |= {e["name"] for e in container.get("env", [])}
        assert set_names - known == set(), values_name


def test_it_puts_transcriber_settings_on_the_transcriber_only(production: list[dict[str, Any]]) -> None:
    def env(component: str) -> dict[str, str]:
        container = workload(production, "Deployment", component)["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e["value"] for e in container.get("env", [])}

    transcriber = env("transcriber")
    assert transcriber["TRANSCRIBE_ENGINE"] == "whisperx"
    assert transcriber["WHISPER_MODEL"] == "large-v3"
    assert transcriber["WHISPER_COMPUTE_TYPE"] == "float16"
    assert transcriber["ALIGN_MODEL"] == "WAV2VEC2_ASR_BASE_960H"
    assert "TRANSCRIBE_ENGINE" not in env("assembler")


def test_it_documents_every_value_with_a_comment_starting_with_its_name() -> None:
    import yaml

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    documented = set(re.findall(r"^\s*# ([a-zA-Z0-9.]+) -- ", (CHART / "values.yaml").read_text(), re.M))
    free_maps = {
        "resources",
        "podSecurityContext",
        "containerSecurityContext",
        "nodeSelector",
        "extraEnv",
        "env",
        "annotations",
        "labels",
        "podAnnotations",
        "commonLabels",
        "affinity",
    }

    def leaves(node: Any, path: str) -> list[str]:
        if isinstance(node, dict) and node and path.rsplit(".", 1)[-1] not in free_maps:
            return [leaf for key, value in node.items() for leaf in leaves(value, f"{path}.{key}" if path else key)]
        return [path]

    undocumented = [leaf for leaf in leaves(values, "") if leaf not in documented]
    assert undocumented == []
    camel = re.compile(r"^[a-z][a-zA-Z0-9]*$")
    assert [leaf for leaf in leaves(values, "") if not all(camel.match(part) for part in leaf.split("."))] == []


# Chart values that promise the code's own cluster-mode default (values.yaml); a default changed
# in settings.py and not in the chart would silently override it on every install.
SAME_DEFAULT_AS_THE_CODE = (
    "UPLOAD_EXPIRY_SECONDS",
    "QUOTA_OPEN_VIDEOS",
    "QUOTA_BYTES",
    "RATE_LIMIT_REQUESTS_PER_MINUTE",
    "MAX_CONCURRENT_JOBS_PER_USER",
    "ASSEMBLE_LEASE_SECONDS",
    "HTTP_HEADER_TIMEOUT_SECONDS",
    "HTTP_BODY_TIMEOUT_SECONDS",
    "MEDIA_URL_TTL_SECONDS",
    "SESSION_COOKIE_AGE",
)


def test_it_keeps_the_codes_defaults(rendered: dict[str, list[dict[str, Any]]], tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in SAME_DEFAULT_AS_THE_CODE}
    env.update(
        {
            "RECORDPLUS_MODE": "cluster",
            "SECRET_KEY": "x",
            "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db",
            "BROKER_URL": "amqp://u:p@127.0.0.1:1/v",
            "DJANGO_SETTINGS_MODULE": "recordplus.config.settings",
        }
    )
    script = "import json; from recordplus.config import settings; print(json.dumps({n: getattr(settings, n) for n in %r}))"
    result = subprocess.run(
        [sys.executable, "-c", script % (SAME_DEFAULT_AS_THE_CODE,)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    code = json.loads(result.stdout.strip().splitlines()[-1])
    config = next(d for d in by_kind(rendered["default"], "ConfigMap").values() if d["metadata"]["name"].endswith("-config"))
    assert {n: float(config["data"][n]) for n in SAME_DEFAULT_AS_THE_CODE} == {n: float(v) for n, v in code.items()}
