"""Dialogue policies: rules, memoization and a learned policy, combined by an ensemble."""

from __future__ import annotations

from engine.policies.base import PolicyPrediction
from engine.policies.ensemble import PolicyEnsemble

__all__ = ["PolicyEnsemble", "PolicyPrediction"]
