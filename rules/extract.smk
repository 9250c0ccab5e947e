# Turn one specimen into its Darwin Core record (the per-specimen JSON).
# Once the API gate's stop switch closes (quota, credits, key, budget), the
# job that meets it asks Snakemake to start no more jobs (graceful exit, see
# herbarium_dwc.scheduler); the onerror hook then prints the reason once
# (rules/common.smk, report_api_gate). Known limit: a job on another node
# than Snakemake (api_on_cluster) cannot signal it, so there the remaining
# jobs still start and each fails within a second without a request.
# API engines run it on the submitting host unless api_on_cluster is set
# (compute nodes often have no internet); the offline engine joins the group.
rule extract_specimen:
    input:
        **get_extract_inputs(),
    output:
        f"{RESULTS}/specimens/{RUN}/{{specimen_id}}.json",
    log:
        f"logs/extract_specimen/{RUN}/{{specimen_id}}.log",
    group:
        get_extract_group()
    localrule: EXTRACT_LOCAL
    conda:
        "../envs/herbarium-dwc.yaml"
    resources:
        api=API_SLOTS,
    params:
        run=RUN,
        dedup=f"{RESULTS}/work/dedup/{RUN}",
        results=get_results_dir,
        prompt=get_prompt_file(),
    script:
        "../scripts/extract_specimen.py"
