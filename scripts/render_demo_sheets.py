# Adapter for rule render_demo_sheets: draws the demo sheets and truth.csv.
from pathlib import Path

from herbarium_dwc.demo import write_demo
from herbarium_dwc.logs import log_to

log_to(snakemake.log[0])
write_demo(Path(snakemake.output.truth).parent)
