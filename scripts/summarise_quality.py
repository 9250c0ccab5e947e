# Adapter for rule summarise_quality.
from herbarium_dwc.aggregate import summarise_quality
from herbarium_dwc.logs import log_to

log_to(snakemake.log[0])
summarise_quality(snakemake.input, snakemake.params.run, snakemake.output[0])
