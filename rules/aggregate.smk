# Merge the per-specimen records into the occurrence table and the archive.
rule merge_occurrences:
    input:
        get_specimen_records(),
    output:
        csv=f"{RESULTS}/occurrence.csv",
        dwca=f"{RESULTS}/dwca.zip",
    log:
        "logs/merge_occurrences/merge_occurrences.log",
    conda:
        "../envs/herbarium-dwc.yaml"
    script:
        "../scripts/merge_occurrences.py"


# Count outcomes, failure kinds and per-field fill rates.
rule summarise_quality:
    input:
        get_specimen_records(),
    output:
        f"{RESULTS}/quality.json",
    log:
        "logs/summarise_quality/summarise_quality.log",
    conda:
        "../envs/herbarium-dwc.yaml"
    params:
        run=RUN,
    script:
        "../scripts/summarise_quality.py"


# Compare the records with ground truth, field by field.
rule evaluate_results:
    input:
        records=get_specimen_records(),
        truth=get_truth() or [],
    output:
        f"{RESULTS}/evaluation.json",
    log:
        "logs/evaluate_results/evaluate_results.log",
    conda:
        "../envs/herbarium-dwc.yaml"
    script:
        "../scripts/evaluate_results.py"
