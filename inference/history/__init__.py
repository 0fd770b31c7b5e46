"""Recording SMC runs: the per-step `History` of a run, its JSON form, and the recorder run_smc uses."""
from inference.history.json_format import HISTORY_SCHEMA, HistoryFormatError, from_json, load, to_json
from inference.history.record import HISTORY_VERSION, History, HistoryStep, ParticleSummary, RecordedSample
from inference.history.recorder import HistoryRecorder

__all__ = ["HISTORY_SCHEMA", "HISTORY_VERSION", "History", "HistoryFormatError", "HistoryRecorder", "HistoryStep",
           "ParticleSummary", "RecordedSample", "from_json", "load", "to_json"]
