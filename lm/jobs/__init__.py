"""Batch jobs: constrained generation for many prompts from a JSONL file, in-process or on Ray, resumable."""
from lm.jobs.batch import BatchSummary, batch
from lm.jobs.job import BatchJob
from lm.jobs.output import OutputConflict, read_records
from lm.jobs.records import BatchInputError, BatchLine, line_seed, read_input

__all__ = ["BatchInputError", "BatchJob", "BatchLine", "BatchSummary", "OutputConflict", "batch", "line_seed",
           "read_input", "read_records"]
