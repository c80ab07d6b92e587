"""Integrations with other systems: API keys, how objects look from outside, the webhook outbox
and its delivery. Below the execution layer, so every channel's changes can announce themselves
here, inside their own transaction."""
