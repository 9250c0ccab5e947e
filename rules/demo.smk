# Draw the demonstration sheets and their truth table (only when images: demo).
rule render_demo_sheets:
    output:
        sheets=expand(
            f"{DEMO_DIR}/images/{{id}}.jpg", id=[r["specimen_id"] for r in DEMO_LABELS]
        ),
        truth=f"{DEMO_DIR}/truth.csv",
    log:
        "logs/render_demo_sheets/render_demo_sheets.log",
    localrule: True
    conda:
        "../envs/herbarium-dwc.yaml"
    script:
        "../scripts/render_demo_sheets.py"
