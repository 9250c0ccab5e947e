# Adapter for rule evaluate_results.
from herbarium_dwc.aggregate import evaluate_records
from herbarium_dwc.logs import log_to

log_to(snakemake.log[0])
evaluate_records(snakemake.input.records, snakemake.input.truth, snakemake.output[0])
