"""Start-up configuration checks through the binary: what `--check` and a refused start say."""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import BROKER_BIN

pytestmark = pytest.mark.ours_only


def run_check(tmp_path, yaml: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    config = tmp_path / "broker.yaml"
    config.write_text(yaml)
    environment = {k: v for k, v in os.environ.items() if k != "MONGO_URL"}
    environment.update(env or {})
    return subprocess.run([BROKER_BIN, "--config", str(config), "--check"], capture_output=True, text=True,
                          timeout=20, env=environment)


def test_check_reports_a_malformed_mongo_url_with_its_variable(tmp_path):
    out = run_check(tmp_path, "log: {level: info}\n", {"MONGO_URL": "mongodb://db:99999/devices"})
    assert out.returncode == 1
    assert "MONGO_URL: " in out.stderr
    assert "config OK" not in out.stdout


def test_check_reports_a_malformed_persistence_url_with_its_path(tmp_path):
    out = run_check(tmp_path, "persistence: {type: mongodb, url: 'mongodb://'}\n")
    assert out.returncode == 1
    assert "persistence.url: " in out.stderr


def test_check_accepts_a_well_formed_url_without_connecting(tmp_path):
    """`--check` parses the URL; it does not need the server (none runs on this port)."""
    out = run_check(tmp_path, "log: {level: info}\n", {"MONGO_URL": "mongodb://127.0.0.1:9/devices?serverSelectionTimeoutMS=100"})
    assert out.returncode == 0, out.stderr
    assert "config OK" in out.stdout


def test_a_cluster_without_mongodb_is_a_config_problem(tmp_path):
    out = run_check(tmp_path, "cluster: {node_id: a}\n")
    assert out.returncode == 1
    assert "cluster: a cluster needs persistence.type: mongodb" in out.stderr
