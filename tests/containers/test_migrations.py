"""The schema is migrated by the migration hook Job's own command, in the API image."""

from __future__ import annotations

from tests.containers.conftest import Cluster
from tests.containers.support import Container, find


def test_it_migrates_with_the_hook_jobs_command(cluster: Cluster) -> None:
    job = find(cluster.documents, "Job", "migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    migrate = cluster.workloads["migrate"]
    assert migrate.image == cluster.workloads["api"].image
    assert migrate.command is None and migrate.args == ["migrate"]
    assert cluster.migrate_exit == 0, cluster.migrate_log


def test_it_runs_again_on_upgrade_as_a_no_op(cluster: Cluster) -> None:
    again = Container.start(cluster.workloads["migrate"], cluster.logdir / "again")
    try:
        assert again.wait(timeout=300) == 0, again.logs()
    finally:
        again.remove()
