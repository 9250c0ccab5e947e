# Adapter for rule write_report.
from pathlib import Path

from herbarium_dwc.logs import log_to
from herbarium_dwc.report import ReportSettings, write_report

log_to(snakemake.log[0])
write_report(
    snakemake.input.records,
    run=snakemake.params.run,
    out_dir=Path(snakemake.output.html).parent,
    results_dir=snakemake.params.results,
    evaluation=snakemake.input.get("evaluation"),
    settings=ReportSettings.from_config(snakemake.config),
    selected=snakemake.params.selected,
)
