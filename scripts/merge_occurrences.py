# Adapter for rule merge_occurrences.
from herbarium_dwc.aggregate import merge_occurrences
from herbarium_dwc.export import DatasetSettings
from herbarium_dwc.logs import log_to

log_to(snakemake.log[0])
merge_occurrences(
    snakemake.input,
    DatasetSettings.from_config(snakemake.config),
    snakemake.output.csv,
    snakemake.output.dwca,
)
