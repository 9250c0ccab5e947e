# Turn one specimen into its Darwin Core record (the per-specimen JSON).
rule extract_specimen:
    input:
        unpack(get_extract_inputs),
    output:
        f"{RESULTS}/specimens/{RUN}/{{specimen_id}}.json",
    log:
        f"logs/extract_specimen/{RUN}/{{specimen_id}}.log",
    conda:
        "../envs/herbarium-dwc.yaml"
    resources:
        api=API_SLOTS,
    params:
        run=RUN,
        dedup=f"{RESULTS}/work/dedup/{RUN}",
        prompt=get_prompt_file(),
    script:
        "../scripts/extract_specimen.py"
