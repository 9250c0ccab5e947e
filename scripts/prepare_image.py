# Adapter for rule prepare_image.
from herbarium_dwc.extraction import prepare_specimen
from herbarium_dwc.logs import log_to
from herbarium_dwc.settings import prepare_settings

log_to(snakemake.log[0])
prepare_specimen(
    snakemake.wildcards.specimen_id,
    snakemake.params.path,
    prepare_settings(snakemake.config),
    snakemake.params.cache,
    snakemake.output[0],
)
