# The specimen table, the selected range and the input functions of all rules.
import shlex
import sys
from pathlib import Path

from herbarium_dwc.errors import ConfigError, HerbariumError
from herbarium_dwc.demo import DEMO_LABELS
from herbarium_dwc.settings import (
    extraction_runs_locally,
    needs_ocr,
    prepare_settings,
    run_id,
)
from herbarium_dwc.specimens import ID_PATTERN, Specimen, build_table, select_range
from herbarium_dwc.status_collector import prepare_status

RESULTS = config["results"].rstrip("/")
RUN = run_id(config)
DEMO = config["images"] == "demo"
DEMO_DIR = "resources/demo"
# Per-specimen CPU jobs (prepare, OCR, offline extraction) share one group, so
# on a cluster `--group-components specimen=N` sends N specimens per job.
SPECIMEN_GROUP = "specimen"
# API extraction runs on the submitting host unless api_on_cluster is set.
EXTRACT_LOCAL = extraction_runs_locally(config)


def load_selection():
    """Build the specimen table and pick the configured range, or stop."""
    try:
        if DEMO:
            table = [
                Specimen(
                    row["specimen_id"], f"{DEMO_DIR}/images/{row['specimen_id']}.jpg"
                )
                for row in DEMO_LABELS
            ]
        else:
            table = build_table(config["images"], config["extensions"])
        return select_range(
            table,
            offset=config["offset"],
            limit=config["limit"],
            specimens=config["specimens"],
        )
    except ConfigError as exc:
        sys.exit(f"herbarium-dwc: configuration problem: {exc}")


SELECTED = load_selection()
PATHS = {specimen.specimen_id: specimen.path for specimen in SELECTED}
IS_API = config["engine"] == "openai"
# API jobs take one `api` resource each: `--resources api=N` caps them.
API_SLOTS = 1 if IS_API else 0


def check_api_settings():
    """Stop before any work when the API engine cannot run (no key, bad value).

    Only the names of the key variables are read from the config; the keys
    stay in the environment and never reach Snakemake's params or metadata.
    """
    if not IS_API:
        return
    from herbarium_dwc.providers import ProviderSettings, load_prompt, read_keys
    from herbarium_dwc.ratelimit import gate_location

    try:
        settings = ProviderSettings.from_config(config)
        read_keys(settings)
        load_prompt(get_prompt_file())
        gate = gate_location(config)
        if gate.is_redis and workflow.is_main_process and not workflow.dryrun:
            # A Redis gate that cannot be reached stops the run here, once.
            # Not in the Snakemake of each cluster job (with api_on_cluster
            # false, compute nodes need not reach the gate at all), nor in
            # a dry-run, which sends nothing.
            gate.open()
    except HerbariumError as exc:
        sys.exit(f"herbarium-dwc: configuration problem: {exc}")


def get_prompt_file():
    """The prompt file of the API engine (a path; empty for other engines)."""
    if not IS_API:
        return ""
    from herbarium_dwc.providers import prompt_file

    return str(prompt_file(config["openai"]["prompt"], workflow.basedir))


def open_api_gate():
    """At the start of a run, clear the gate's stop switch and the
    connectivity checks of an earlier run (so each host checks again), and
    note this (scheduling) process, which a job that meets a closed gate asks
    to start no more jobs."""
    if IS_API:
        from herbarium_dwc.connectivity import connectivity_dir, forget_checks
        from herbarium_dwc.ratelimit import reopen_gate
        from herbarium_dwc.scheduler import note_scheduler

        note_scheduler(RESULTS, RUN)
        try:
            reopen_gate(config)
        except HerbariumError as exc:
            sys.exit(f"herbarium-dwc: cannot open the rate gate: {exc}")
        forget_checks(connectivity_dir(RESULTS))


def report_api_gate():
    """After a failed run, say once why API requests stopped, if they did,
    and which hosts could not reach the API endpoint."""
    if IS_API:
        from herbarium_dwc.connectivity import (
            connectivity_dir,
            describe_failed_checks,
        )
        from herbarium_dwc.ratelimit import describe_closed_gate

        for message in (
            describe_closed_gate(config),
            describe_failed_checks(connectivity_dir(RESULTS)),
        ):
            if message:
                print(message, file=sys.stderr)


check_api_settings()


def get_image_path(wildcards):
    """The image file of one specimen (a param: missing files become failed records)."""
    return PATHS[wildcards.specimen_id]


# Inputs below are fixed patterns, not input functions: Snakemake calls an
# input function once per job, which adds up over 100,000 specimens.


def get_demo_sheet():
    """The demo sheet a specimen needs rendered first, if the demo is running."""
    return [f"{DEMO_DIR}/images/{{specimen_id}}.jpg"] if DEMO else []


def get_python():
    """The Python for `python -m` jobs: the environment's own under --use-conda
    (or a container), otherwise the one running Snakemake, as script: does."""
    try:
        from snakemake.settings.types import DeploymentMethod

        methods = workflow.deployment_settings.deployment_method
        if DeploymentMethod.CONDA in methods or DeploymentMethod.APPTAINER in methods:
            return "python"
    except (ImportError, AttributeError):
        pass
    return shlex.quote(sys.executable)


def get_prepare_options():
    """The image budget of the configured engine, as prepare-stage options."""
    budget = prepare_settings(config)
    return (
        f"--max-edge {budget.max_edge} --max-bytes {budget.max_bytes} "
        f"--quality {budget.quality} --min-quality {budget.min_quality} "
        f"--max-pixels {budget.max_pixels}"
    )


def get_extract_inputs():
    """The prepared image manifest, plus the OCR text when the engine reads it."""
    inputs = {"prepared": f"{RESULTS}/work/prepared/{{specimen_id}}.json"}
    if needs_ocr(config):
        inputs["ocr"] = f"{RESULTS}/work/ocr/{{specimen_id}}.json"
    return inputs


def get_extract_group():
    """The group of extract_specimen: none when it runs on the submitting host
    (a grouped rule cannot be a local rule)."""
    return None if EXTRACT_LOCAL else SPECIMEN_GROUP


def get_specimen_records():
    """Every selected specimen's record in the current run."""
    return expand(
        "{results}/specimens/{run}/{specimen_id}.json",
        results=RESULTS,
        run=RUN,
        specimen_id=list(PATHS),
    )


def get_truth():
    """The ground-truth path, or None when evaluation is off."""
    truth = config["truth"]
    if not truth:
        return None
    if truth == "demo":
        return f"{DEMO_DIR}/truth.csv" if DEMO else None
    return truth


def get_report_inputs(wildcards):
    """The records, and evaluation.json when ground truth is configured."""
    inputs = {"records": get_specimen_records()}
    if get_truth():
        inputs["evaluation"] = f"{RESULTS}/evaluation.json"
    return inputs


def get_results_dir(wildcards, output):
    """The results folder above a job's first output (for the event log).

    Taken from the output path, so a storage prefix that Snakemake puts in
    front of outputs on executors without a shared file system carries over.
    """
    parts = Path(RESULTS).parts
    for parent in Path(output[0]).parents:
        if parent.parts[-len(parts) :] == parts:
            return str(parent)
    return RESULTS


def update_status_files():
    """Note the range for `herbarium-dwc status` and bring the summary of the
    event log it keeps up to date (at the start and at the end of a run)."""
    prepare_status(RESULTS, RUN, list(PATHS))


def get_final_outputs():
    """The final targets: the table, the quality summary, evaluation, report.

    The records themselves are targets too: Snakemake does not remake a
    missing input of an up-to-date output, so without them a deleted record
    would not be extracted again.
    """
    outputs = [
        f"{RESULTS}/occurrence.csv",
        f"{RESULTS}/dwca.zip",
        f"{RESULTS}/quality.json",
        f"{RESULTS}/report/index.html",
        f"{RESULTS}/report/report.json",
    ]
    if get_truth():
        outputs.append(f"{RESULTS}/evaluation.json")
    return outputs


def get_all_targets():
    """Everything the default target asks for."""
    return get_final_outputs() + get_specimen_records()


def print_outputs():
    """Tell the user where the results are."""
    print(f"\nherbarium-dwc: {len(PATHS)} specimens, run {RUN}", file=sys.stderr)
    for path in get_final_outputs():
        print(f"  {path}", file=sys.stderr)
    print(f"  per-specimen records: {RESULTS}/specimens/{RUN}/", file=sys.stderr)
