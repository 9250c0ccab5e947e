"""herbarium-dwc: herbarium specimen images to Darwin Core records.

The package holds everything the Snakemake workflow calls: the specimen
table, image preparation, the extraction engines, Darwin Core normalisation,
exports, quality reports and evaluation against ground truth.
"""

__version__ = "0.1.0"
