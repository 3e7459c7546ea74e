"""The ``webhooks`` kind: a receiver for pushed, signed messages (Standard Webhooks)."""

from connectors.webhooks.config import WebhookConfig
from connectors.webhooks.receiver import VerifiedMessage, WebhookDelivery, WebhookReceiver

__all__ = ["VerifiedMessage", "WebhookConfig", "WebhookDelivery", "WebhookReceiver"]
