"""What a cluster run will do, checked on the plan: groups, local rules, profile.

Snakemake forms group jobs in a dry-run as it would for a cluster, so these
tests need no cluster. The run on a real one-node SLURM cluster is
.ci/slurm.sh (called from .ci/run).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO, Workflow

pytestmark = pytest.mark.workflow


@pytest.fixture(autouse=True)
def _placeholder_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The openai engine refuses to plan without a key; these tests only plan
    (dry-run or parse), so no request is ever sent with it."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "placeholder-for-planning-only")


def _plan(text: str) -> tuple[list[list[str]], list[str]]:
    """Split a dry-run's job list into group jobs (their rules) and the
    rules of the jobs outside any group (``localrule`` marked with ``local:``)."""
    groups: list[list[str]] = []
    single: list[str] = []
    in_group = False
    for line in text.split("Job stats:", 1)[-1].splitlines():
        if "Group job " in line:
            groups.append([])
            in_group = True
            continue
        match = re.match(r"^(\s*)(local)?rule (\w+):", line)
        if not match:
            continue
        name = f"local:{match.group(3)}" if match.group(2) else match.group(3)
        if in_group and match.group(1):
            groups[-1].append(name)
        else:
            in_group = False
            single.append(name)
    return groups, single


def _dry_run(
    workflow: Workflow, config: dict[str, object], *args: str
) -> tuple[list[list[str]], list[str]]:
    done = workflow.run("--dry-run", *args, config=config)
    return _plan(done.stdout + done.stderr)


def _config(images: Path, engine: str, **extra: object) -> dict[str, object]:
    return {"images": str(images), "engine": engine, "truth": "", **extra}


def test_group_components_put_n_specimens_with_all_their_steps_into_one_job(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _config(sheets(4), "offline")
    groups, single = _dry_run(workflow, config, "--group-components", "specimen=2")
    assert [sorted(group) for group in groups] == [
        ["extract_specimen"] * 2 + ["ocr_image"] * 2 + ["prepare_image"] * 2
    ] * 2
    assert sorted(single) == [
        "all",
        "merge_occurrences",
        "summarise_quality",
        "write_report",
    ]


def test_api_extraction_stays_out_of_the_group_by_default(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _config(sheets(2), "openai")
    groups, single = _dry_run(workflow, config, "--group-components", "specimen=2")
    assert groups == [["prepare_image", "prepare_image"]]
    assert sorted(single).count("extract_specimen") == 2


def test_api_on_cluster_puts_api_extraction_into_the_group(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _config(sheets(2), "openai", api_on_cluster=True)
    groups, single = _dry_run(workflow, config, "--group-components", "specimen=2")
    assert [sorted(group) for group in groups] == [
        ["extract_specimen"] * 2 + ["prepare_image"] * 2
    ]
    assert "extract_specimen" not in single


# Which rules Snakemake will keep on the submitting host. A dry-run cannot show
# it (every job of a dry-run is local), so this asks the loaded workflow;
# `_localrules` and `_group` are Snakemake internals (pinned to 9.x).
_PROBE_RULES = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(config=json.loads(sys.argv[1])),
        snakefile=Path("Snakefile"),
    )._workflow
    rules = {
        rule.name: {"local": rule.name in workflow._localrules, "group": rule._group}
        for rule in workflow.rules
    }
print("RULES " + json.dumps(rules))
"""


def _rule_placement(workflow: Workflow, config: dict[str, object]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE_RULES, json.dumps(config)],
        cwd=workflow.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("RULES "), done.stdout + done.stderr
    placement: dict[str, Any] = json.loads(line.removeprefix("RULES "))
    return placement


@pytest.mark.parametrize(
    ("engine", "api_on_cluster", "local"),
    [("openai", False, True), ("openai", True, False)],
)
def test_api_extraction_is_a_local_rule_unless_api_on_cluster(
    workflow: Workflow,
    sheets: Callable[..., Path],
    engine: str,
    api_on_cluster: bool,
    local: bool,
) -> None:
    config = _config(sheets(1), engine, api_on_cluster=api_on_cluster)
    placement = _rule_placement(workflow, config)
    assert placement["extract_specimen"] == {
        "local": local,
        "group": None if local else "specimen",
    }
    assert placement["prepare_image"] == {"local": False, "group": "specimen"}
    assert placement["merge_occurrences"] == {"local": False, "group": None}


@pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="profiles/slurm needs the [slurm] extra (snakemake-executor-plugin-slurm)",
)
def test_slurm_profile_plans_50_specimens_per_job(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _config(sheets(60), "noop")
    groups, single = _dry_run(workflow, config, "--profile", "profiles/slurm")
    assert sorted(len(group) for group in groups) == [20, 100]
    assert sorted(single) == [
        "all",
        "merge_occurrences",
        "summarise_quality",
        "write_report",
    ]


def _rule_names() -> set[str]:
    names: set[str] = set()
    for path in [REPO / "Snakefile", *(REPO / "rules").glob("*.smk")]:
        names.update(re.findall(r"^rule (\w+):", path.read_text(), re.MULTILINE))
    return names


def test_slurm_profile_comments_every_entry_and_names_real_rules() -> None:
    path = REPO / "profiles" / "slurm" / "config.yaml"
    lines = path.read_text().splitlines()
    profile = yaml.safe_load(path.read_text())
    for index, line in enumerate(lines):
        if re.match(r"^[a-z][\w-]*:", line):
            assert lines[index - 1].startswith("#"), f"{line!r} has no comment"
    assert profile["executor"] == "slurm"
    assert set(profile["set-resources"]) <= _rule_names()
    assert profile["group-components"] == ["specimen=50"]
    # profiles/default is loaded on top of this profile and would win.
    default = yaml.safe_load(
        (REPO / "profiles" / "default" / "config.yaml").read_text()
    )
    assert not set(default) & set(profile)
