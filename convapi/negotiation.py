"""Content negotiation that never refuses: Rasa answers JSON whatever ``Accept`` says; and
the JSON renderer every API answer goes through.

Only ``GET /domain`` looks at ``Accept``, and it does so itself (API.md 4.18).
"""

from __future__ import annotations

from rest_framework import renderers
from rest_framework.negotiation import BaseContentNegotiation

from jobs.stages import stage


class FirstRendererNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, its work counted as the "render" stage (``jobs.stages``)."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        with stage("render"):
            return super().render(data, accepted_media_type, renderer_context)
