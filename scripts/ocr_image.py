# Adapter for rule ocr_image.
from herbarium_dwc.extraction import ocr_specimen
from herbarium_dwc.logs import log_to
from herbarium_dwc.settings import prepare_settings

log_to(snakemake.log[0])
ocr_specimen(
    snakemake.input[0],
    prepare_settings(snakemake.config),
    snakemake.output[0],
    reread_vertical=snakemake.config["offline"]["reread_vertical"],
)
