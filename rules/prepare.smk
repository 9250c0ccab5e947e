# Read one image, orient and shrink it, and cache the result by content hash.
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
        path=get_image_path,
        cache=f"{RESULTS}/cache/prepared",
    script:
        "../scripts/prepare_image.py"
