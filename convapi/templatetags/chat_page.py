"""``{% chat_page_url %}``: where the "try the bot" page is, or "" while it is off."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.simple_tag
def chat_page_url() -> str:
    return "" if settings.CONVAPI_CHAT_PAGE == "off" else reverse("chat")
