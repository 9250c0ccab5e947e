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


# Draw the quality report people read: one offline HTML page plus its JSON.
rule write_report:
    input:
        unpack(get_report_inputs),
    output:
        html=report(
            f"{RESULTS}/report/index.html",
            caption="../report/quality_report.rst",
            category="Quality",
        ),
        json=report(
            f"{RESULTS}/report/report.json",
            caption="../report/report_json.rst",
            category="Quality",
        ),
    log:
        "logs/write_report/write_report.log",
    conda:
        "../envs/herbarium-dwc.yaml"
    params:
        run=RUN,
        results=get_results_dir,
        selected=len(PATHS),
    script:
        "../scripts/write_report.py"
