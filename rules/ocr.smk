# Find the text on one prepared image with the bundled OCR engine.
rule ocr_image:
    input:
        f"{RESULTS}/work/prepared/{{specimen_id}}.json",
    output:
        temp(f"{RESULTS}/work/ocr/{{specimen_id}}.json"),
    log:
        "logs/ocr_image/{specimen_id}.log",
    group:
        SPECIMEN_GROUP
    conda:
        "../envs/herbarium-dwc.yaml"
    script:
        "../scripts/ocr_image.py"
