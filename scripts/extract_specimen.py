# Adapter for rule extract_specimen.
from herbarium_dwc.dwc.normalise import NormaliseSettings
from herbarium_dwc.engines import build_engine
from herbarium_dwc.extraction import extract_specimen
from herbarium_dwc.logs import log_to
from herbarium_dwc.settings import prepare_settings

log_to(snakemake.log[0])
extract_specimen(
    manifest_path=snakemake.input.prepared,
    ocr_path=snakemake.input.get("ocr"),
    engine=build_engine(snakemake.config, prompt_path=snakemake.params.prompt),
    run=snakemake.params.run,
    settings=prepare_settings(snakemake.config),
    normalise=NormaliseSettings.from_config(snakemake.config),
    out=snakemake.output[0],
    dedup_dir=snakemake.params.dedup,
    results_dir=snakemake.params.results,
)
