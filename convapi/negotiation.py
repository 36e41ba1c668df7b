"""Content negotiation that never refuses: Rasa answers JSON whatever ``Accept`` says.

Only ``GET /domain`` looks at ``Accept``, and it does so itself (API.md 4.18).
"""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation


class FirstRendererNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
