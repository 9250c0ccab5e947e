# Read one image, orient and shrink it, and cache the result by content hash.
# A shell job running the package module starts about a second faster per
# specimen than a script: job, which for a 0.1-second image is most of the
# stage (benchmarks/prepare_throughput.py).
rule prepare_image:
    input:
        get_demo_sheet(),
    output:
        temp(f"{RESULTS}/work/prepared/{{specimen_id}}.json"),
    log:
        "logs/prepare_image/{specimen_id}.log",
    group:
        SPECIMEN_GROUP
    conda:
        "../envs/herbarium-dwc.yaml"
    params:
        python=get_python(),
        path=get_image_path,
        cache=f"{RESULTS}/cache/prepared",
        budget=get_prepare_options(),
    shell:
        "{params.python} -m herbarium_dwc.prepare"
        " --specimen-id {wildcards.specimen_id:q} --source {params.path:q}"
        " --cache {params.cache:q} --out {output:q} {params.budget}"
        " > {log:q} 2>&1"
