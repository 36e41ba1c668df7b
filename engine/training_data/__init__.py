"""Reading a bot's training data (NLU examples here; stories and rules live beside)."""

from __future__ import annotations

from engine.training_data.nlu import (
    Example,
    NLUTrainingData,
    load_nlu_files,
    nlu_data_from_dict,
    nlu_data_from_rasa_json,
    nlu_data_from_yaml,
)

__all__ = [
    "Example",
    "NLUTrainingData",
    "load_nlu_files",
    "nlu_data_from_dict",
    "nlu_data_from_rasa_json",
    "nlu_data_from_yaml",
]
