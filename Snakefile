# herbarium-dwc: herbarium specimen images to Darwin Core records.
# Run `snakemake --cores 2`; settings live in config/config.yaml.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


include: "rules/common.smk"


wildcard_constraints:
    specimen_id=ID_PATTERN,


include: "rules/demo.smk"
include: "rules/prepare.smk"
include: "rules/ocr.smk"
include: "rules/extract.smk"
include: "rules/aggregate.smk"


rule all:
    default_target: True
    input:
        get_all_targets(),


onstart:
    update_status_files()
    open_api_gate()


onsuccess:
    update_status_files()
    print_outputs()


onerror:
    update_status_files()
    report_api_gate()
