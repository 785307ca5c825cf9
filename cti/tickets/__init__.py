"""Tickets (工单), the durable outbox and Standard Webhooks delivery."""
