# The specimen table, the selected range and the input functions of all rules.
import sys

from herbarium_dwc.errors import ConfigError
from herbarium_dwc.demo import DEMO_LABELS
from herbarium_dwc.settings import extraction_runs_locally, needs_ocr, run_id
from herbarium_dwc.specimens import ID_PATTERN, Specimen, build_table, select_range

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


def get_image_path(wildcards):
    """The image file of one specimen (a param: missing files become failed records)."""
    return PATHS[wildcards.specimen_id]


# Inputs below are fixed patterns, not input functions: Snakemake calls an
# input function once per job, which adds up over 100,000 specimens.


def get_demo_sheet():
    """The demo sheet a specimen needs rendered first, if the demo is running."""
    return [f"{DEMO_DIR}/images/{{specimen_id}}.jpg"] if DEMO else []


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


def get_final_outputs():
    """The final targets: the table, the quality summary, evaluation.

    The records themselves are targets too: Snakemake does not remake a
    missing input of an up-to-date output, so without them a deleted record
    would not be extracted again.
    """
    outputs = [f"{RESULTS}/occurrence.csv", f"{RESULTS}/quality.json"]
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
