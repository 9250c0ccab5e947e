# Turn one specimen into its Darwin Core record (the per-specimen JSON).
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
    params:
        run=RUN,
        dedup=f"{RESULTS}/work/dedup/{RUN}",
    script:
        "../scripts/extract_specimen.py"
